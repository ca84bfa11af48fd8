//go:build browser

// The browser tier (make test-browser): the example's /docs page in a real
// headless Chromium, driven by chromedp, the API and the worker running in
// this process on the embedded broker.
//
//	CHROMIUM         the browser (default /usr/bin/chromium)
//	BROWSER_ARTIFACTS where the screenshot goes (default ./.artifacts/browser at the repository root)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kafka-broker/kafka-broker-go/asyncapi"
	"github.com/kafka-broker/kafka-broker-go/embedded"
	"github.com/kafka-broker/kafka-broker-go/examples/internal/devenv"
	"github.com/kafka-broker/kafka-broker-go/examples/worker"
)

// startExample runs the example as `go run ./examples/gin` does with no
// broker configured, on a free port, and returns its base URL.
func startExample(t *testing.T) string {
	t.Helper()
	cluster, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	ctx, cancel := context.WithCancel(context.Background())
	startCtx, startCancel := context.WithTimeout(ctx, 90*time.Second)
	defer startCancel()
	w, err := worker.Start(startCtx, cluster.BootstrapServers(), workerLocation)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		s := devenv.Setup{Brokers: cluster.BootstrapServers(), Addr: "127.0.0.1:0", StartTimeout: 90 * time.Second}
		done <- runAPI(ctx, s, func(a net.Addr) { ready <- a })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("API: %v", err)
		}
		closeCtx, closeCancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer closeCancel()
		if err := w.Close(closeCtx); err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	select {
	case a := <-ready:
		return "http://" + a.String()
	case err := <-done:
		t.Fatalf("API stopped before serving: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("API not serving after 90s")
	}
	return ""
}

func browser(t *testing.T) context.Context {
	t.Helper()
	exe := os.Getenv("CHROMIUM")
	if exe == "" {
		exe = "/usr/bin/chromium"
	}
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("no browser at %s (scripts/test-browser installs Debian's chromium; CHROMIUM names another): %v", exe, err)
	}
	// Without the background-networking flags Chromium keeps trying to reach
	// Google's services, which a closed network does not answer.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx() // closes the tab and the browser, and waits for it
		cancelAlloc()
	})
	return ctx
}

func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BROWSER_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", ".artifacts", "browser")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// documentedOperations returns "key kind" of each receive operation of the
// served document, sorted.
func documentedOperations(t *testing.T, base string) []string {
	t.Helper()
	res, err := http.Get(base + asyncapi.PathDocument)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc asyncapi.Document
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, op := range doc.Operations {
		if op.Action == "receive" {
			ops = append(ops, op.RoutingKey+" "+op.Kind)
		}
	}
	slices.Sort(ops)
	return ops
}

func TestDocsPageInBrowser(t *testing.T) {
	base := startExample(t)
	want := documentedOperations(t, base)
	if !slices.Equal(want, []string{"greeter.bye event", "greeter.hello request", "math.double request"}) {
		t.Fatalf("the example documents %v", want)
	}
	ctx := browser(t)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s: the page did not get there within the test's 2 minutes", what)
			}
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	// Every operation of the document is on the page.
	step("open /docs", chromedp.Navigate(base+"/docs"), chromedp.WaitReady(chromedp.CSS(`body[data-ready="true"]`)))
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("article.op")].map(a => a.dataset.key + " " + a.dataset.kind).sort()`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("the page shows %v, the document has %v", got, want)
	}
	if title := text("#title"); !strings.Contains(title, "Gin example worker") {
		t.Errorf("title %q", title)
	}

	// A valid request: the reply and its audit log.
	hello := `article.op[data-key="greeter.hello"] `
	step("send a valid request",
		chromedp.SetValue(chromedp.CSS(hello+"textarea"), `{"name": "Grace"}`),
		chromedp.Click(chromedp.CSS(hello+`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(hello+"output.result.ok pre.reply-data")))
	if reply := text(hello + "output.result pre.reply-data"); !strings.Contains(reply, `"Hello, Grace!"`) {
		t.Errorf("reply shown: %q", reply)
	}
	hops, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('article.op[data-key="greeter.hello"] table.audit tbody tr td:nth-child(2)')].map(td => td.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(hops, []string{apiLocation, workerLocation}) {
		t.Errorf("audit log shows the hops %v, want %s then %s", hops, apiLocation, workerLocation)
	}

	// Invalid input: the field error.
	double := `article.op[data-key="math.double"] `
	step("send an invalid request",
		chromedp.SetValue(chromedp.CSS(double+"textarea"), `{"n": "twenty-one"}`),
		chromedp.Click(chromedp.CSS(double+`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(double+`output.result.error li.field-error[data-field="n"]`)))
	if status := text(double + "output.result .status"); !strings.Contains(status, "422") {
		t.Errorf("status shown for invalid data: %q", status)
	}
	if fe := text(double + `li.field-error[data-field="n"]`); !strings.Contains(fe, "n must be a number") {
		t.Errorf("field error shown: %q", fe)
	}
	step("send a request missing a field",
		chromedp.SetValue(chromedp.CSS(hello+"textarea"), `{}`),
		chromedp.Click(chromedp.CSS(hello+`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(hello+`output.result.error li.field-error[data-field="name"]`)))
	if fe := text(hello + `li.field-error[data-field="name"]`); !strings.Contains(fe, "required") {
		t.Errorf("field error shown: %q", fe)
	}
	// Back to a valid reply, for the screenshot.
	step("send a valid request again",
		chromedp.SetValue(chromedp.CSS(hello+"textarea"), `{"name": "Grace"}`),
		chromedp.Click(chromedp.CSS(hello+`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(hello+"output.result.ok pre.reply-data")))

	step("scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(artifactsDir(t), "docs.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("browser: screenshot of /docs (%d bytes): %s\n", len(png), path)
}
