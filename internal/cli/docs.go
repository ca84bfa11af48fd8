package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kafka-broker/kafka-broker-go/asyncapi"
)

const docsAbout = `
Prints the events a service handles, from its AsyncAPI document: each
operation's routing key, kind (request/reply, event, untyped), the fields of
its data and of its reply, with types and rules.

<url-or-file> is the URL of a running service that serves its document
(gininteg.Docs, echointeg.Docs): http://host:port, its /docs page, or the
/asyncapi.json URL itself; or a file holding the document ("-" reads stdin).`

const docsMore = `
Exit status:
  0    the document was printed
  1    it could not be fetched or read, or is not an AsyncAPI 3 document
  2    bad flags or arguments

Examples:
  kafka-broker docs http://localhost:8080
  kafka-broker docs http://localhost:8080/docs
  kafka-broker docs asyncapi.json
  curl -s localhost:8080/asyncapi.json | kafka-broker docs -`

func runDocs(ctx context.Context, env Env, args []string) int {
	var timeout time.Duration
	var format string
	fs := newFlagSet("docs", "docs <url-or-file> [flags]", docsAbout, docsMore)
	fs.DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the service")
	fs.StringVar(&format, "format", "human", "`human` or json (the document as fetched, indented)")
	pos, err := fs.parse(args, 1, 1)
	if err != nil {
		return fs.fail(env, err)
	}
	if format != "human" && format != "json" {
		return fail(env, "docs", usagef("--format: not human or json: %q", format))
	}
	raw, err := readDocument(ctx, env, pos[0], timeout)
	if err != nil {
		return fail(env, "docs", err)
	}
	var doc asyncapi.Document
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fail(env, "docs", fmt.Errorf("%s: not a JSON AsyncAPI document: %w", pos[0], err))
	}
	if !strings.HasPrefix(doc.AsyncAPI, "3.") {
		return fail(env, "docs", fmt.Errorf("%s: not an AsyncAPI 3 document (asyncapi: %q)", pos[0], doc.AsyncAPI))
	}
	if format == "json" {
		var v any
		_ = json.Unmarshal(raw, &v)
		b, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintln(env.Stdout, string(b))
		return ExitOK
	}
	printDocument(env.Stdout, &doc)
	return ExitOK
}

// documentURL is where a service serves its document, given its address,
// its docs page, or the document's own URL.
func documentURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", usagef("%q is not a URL: %v", s, err)
	}
	if u.Host == "" {
		return "", usagef("%q has no host", s)
	}
	if !strings.HasSuffix(u.Path, ".json") {
		p := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), asyncapi.PathPage)
		u.Path = p + asyncapi.PathDocument
	}
	return u.String(), nil
}

func readDocument(ctx context.Context, env Env, src string, timeout time.Duration) ([]byte, error) {
	switch {
	case src == "-":
		return io.ReadAll(env.Stdin)
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		u, err := documentURL(src)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("%s did not answer within %v", u, timeout)
			}
			return nil, fmt.Errorf("cannot fetch %s: %w", u, err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", u, err)
		}
		if res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s (does the service call gininteg.Docs or echointeg.Docs?)", u, res.Status)
		}
		return body, nil
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return nil, err
	}
	return b, nil
}

var kindNames = map[string]string{"request": "request/reply", "event": "event", "untyped": "untyped"}

func printDocument(w io.Writer, doc *asyncapi.Document) {
	fmt.Fprintf(w, "%s %s (AsyncAPI %s)\n", doc.Info.Title, doc.Info.Version, doc.AsyncAPI)
	if doc.Info.Description != "" {
		fmt.Fprintln(w, doc.Info.Description)
	}
	ops := doc.Describe()
	dlq := map[string]string{}
	for _, op := range ops {
		if op.Kind == "send" {
			if o := doc.Operations[op.ID]; o != nil {
				dlq[op.Location] = strings.TrimPrefix(o.Channel.Ref, "#/channels/")
			}
		}
	}
	location := "\x00"
	for _, op := range ops {
		if op.Kind == "send" {
			continue
		}
		if op.Location != location {
			location = op.Location
			fmt.Fprintf(w, "\nTopic %s", location)
			if d := dlq[location]; d != "" {
				fmt.Fprintf(w, " (dead letters: %s)", d)
			}
			fmt.Fprintln(w)
		}
		kind := kindNames[op.Kind]
		if kind == "" {
			kind = op.Kind
		}
		fmt.Fprintf(w, "\n  %s  %s\n", op.RoutingKey, kind)
		printSchema(w, doc, "data", op.Data)
		if op.Reply != nil {
			printSchema(w, doc, "reply", op.Reply)
		}
	}
	if len(ops) == 0 || ops[0].Kind == "send" {
		fmt.Fprintln(w, "\nNo operations: the service binds no handlers.")
	}
}

func printSchema(w io.Writer, doc *asyncapi.Document, label string, s asyncapi.Schema) {
	if len(s) == 0 || (s["$ref"] == nil && s["type"] == nil && s["properties"] == nil) {
		fmt.Fprintf(w, "    %s: any JSON (not described)\n", label)
		return
	}
	fmt.Fprintf(w, "    %s: %s\n", label, doc.TypeName(s))
	fields := doc.Fields(s)
	if len(fields) == 0 {
		return
	}
	var buf strings.Builder
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	for _, f := range fields {
		req := ""
		if f.Required {
			req = "required"
		}
		notes := strings.Join(f.Rules, ", ")
		if f.Description != "" {
			if notes != "" {
				notes += "; "
			}
			notes += f.Description
		}
		fmt.Fprintf(tw, "      %s\t%s\t%s\t%s\n", f.Path, f.Type, req, notes)
	}
	tw.Flush()
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line != "" {
			fmt.Fprintln(w, strings.TrimRight(line, " \n"))
		}
	}
}
