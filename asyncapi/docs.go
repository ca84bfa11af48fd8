package asyncapi

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg"
)

// Paths Docs serves, below the prefix it is mounted at.
const (
	PathDocument = "/asyncapi.json"
	PathPage     = "/docs"
	PathTry      = "/docs/try"
	pathJS       = "/docs/app.js"
	pathCSS      = "/docs/app.css"
)

// DefaultTryTimeout bounds a request sent from the docs page.
const DefaultTryTimeout = 15 * time.Second

// maxTryBody bounds the body of a try request.
const maxTryBody = 1 << 20

//go:embed ui/index.html ui/app.js ui/app.css
var ui embed.FS

var pageTemplate = template.Must(template.ParseFS(ui, "ui/index.html"))

// Option configures Docs.
type Option interface{ apply(*docsConfig) }

type docsConfig struct {
	info       Info
	services   []Service
	tryIt      bool
	tryTimeout time.Duration
}

type optionFunc func(*docsConfig)

func (f optionFunc) apply(c *docsConfig) { f(c) }

// WithInfo sets the document's title, version and description. The title
// defaults to the Location, the version to "0.0.0".
func WithInfo(info Info) Option {
	return optionFunc(func(c *docsConfig) { c.info = info })
}

// WithService documents s instead of the Manager's own Location and router;
// given several times, it documents several services. A gateway that sends
// requests to a worker documents the worker this way, and "try it" sends to
// the worker's Location.
func WithService(s Service) Option {
	return optionFunc(func(c *docsConfig) { c.services = append(c.services, s) })
}

// WithTryIt enables the "try it" form of the page: POST /docs/try sends a
// request with the event and data a client gives to a documented service,
// through the Manager, and answers with the reply. It lets any HTTP client
// that reaches the endpoint send those requests: enable it in development,
// or behind authentication.
func WithTryIt() Option {
	return optionFunc(func(c *docsConfig) { c.tryIt = true })
}

// WithTryTimeout bounds the wait for the reply to a try request (default
// 15s); the HTTP request's context bounds it too. d <= 0 keeps the default.
func WithTryTimeout(d time.Duration) Option {
	return optionFunc(func(c *docsConfig) {
		if d > 0 {
			c.tryTimeout = d
		}
	})
}

// Docs serves a service's AsyncAPI document and its docs page: GET
// /asyncapi.json, GET /docs (an HTML page with its script and stylesheet
// below /docs/, nothing fetched from elsewhere) and, with WithTryIt, POST
// /docs/try. It is an http.Handler for all of Routes, wherever they are
// mounted: it answers by the end of the request path. The document is built
// from the routers at each request, so routers set later are seen.
type Docs struct {
	m   *core.Manager
	cfg docsConfig
}

// NewDocs returns the docs of m's service (ServiceOf(m)) or of the services
// given with WithService. It panics when m is nil.
func NewDocs(m *core.Manager, opts ...Option) *Docs {
	if m == nil {
		panic("asyncapi: NewDocs: nil manager")
	}
	cfg := docsConfig{tryTimeout: DefaultTryTimeout}
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	return &Docs{m: m, cfg: cfg}
}

// Route is a method and path Docs answers.
type Route struct{ Method, Path string }

// Routes lists what the adapters register for d.
func (d *Docs) Routes() []Route {
	rs := []Route{
		{http.MethodGet, PathDocument},
		{http.MethodGet, PathPage},
		{http.MethodGet, pathJS},
		{http.MethodGet, pathCSS},
	}
	if d.cfg.tryIt {
		rs = append(rs, Route{http.MethodPost, PathTry})
	}
	return rs
}

func (d *Docs) services() []Service {
	if len(d.cfg.services) > 0 {
		return d.cfg.services
	}
	return []Service{ServiceOf(d.m)}
}

// Document builds the document of the documented services as they are now.
func (d *Docs) Document() (*Document, error) {
	return Build(d.cfg.info, d.services()...)
}

func (d *Docs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	for _, rt := range d.Routes() {
		if !strings.HasSuffix(path, rt.Path) {
			continue
		}
		if r.Method != rt.Method && (rt.Method != http.MethodGet || r.Method != http.MethodHead) {
			w.Header().Set("Allow", rt.Method)
			writeJSON(w, http.StatusMethodNotAllowed, httpinteg.ErrorResponse{Error: "method_not_allowed", Message: "use " + rt.Method})
			return
		}
		prefix := strings.TrimSuffix(path, rt.Path)
		switch rt.Path {
		case PathDocument:
			d.serveDocument(w)
		case PathPage:
			d.servePage(w, prefix)
		case pathJS, pathCSS:
			serveAsset(w, r, rt.Path)
		case PathTry:
			d.serveTry(w, r)
		}
		return
	}
	http.NotFound(w, r)
}

func (d *Docs) serveDocument(w http.ResponseWriter) {
	doc, err := d.Document()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, httpinteg.ErrorResponse{Error: "no_document", Message: err.Error()})
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, doc)
}

// securityHeaders keep the page to its own script and styles.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

func (d *Docs) servePage(w http.ResponseWriter, prefix string) {
	var buf bytes.Buffer
	title := d.cfg.info.Title
	if title == "" {
		title = d.services()[0].Location
	}
	err := pageTemplate.Execute(&buf, map[string]any{
		"Title":    title,
		"Prefix":   prefix,
		"Document": prefix + PathDocument,
		"Try":      d.cfg.tryIt,
		"TryURL":   prefix + PathTry,
	})
	if err != nil {
		http.Error(w, "docs page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	securityHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(buf.Bytes())
}

func serveAsset(w http.ResponseWriter, r *http.Request, path string) {
	name := "ui/" + path[strings.LastIndexByte(path, '/')+1:]
	b, err := ui.ReadFile(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	securityHeaders(w.Header())
	w.Header().Set("Content-Type", mime.TypeByExtension(name[strings.LastIndexByte(name, '.'):]))
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

// TryRequest is the body of POST /docs/try.
type TryRequest struct {
	// Location is the documented service to send to; it may be left out
	// when one service is documented.
	Location string          `json:"location,omitempty"`
	Event    string          `json:"event"`
	Data     json.RawMessage `json:"data"`
}

// TryResponse is the answer of POST /docs/try: the reply (an error reply
// too) or why there is none.
type TryResponse struct {
	CorrelationID string            `json:"correlation_id,omitempty"`
	ElapsedMS     float64           `json:"elapsed_ms"`
	Reply         *core.EventObject `json:"reply,omitempty"`
	Error         *TryError         `json:"error,omitempty"`
}

// TryError is the error of a try request: an error reply (StatusCode and
// Fields from the *core.RemoteError) or a failure to get a reply.
type TryError struct {
	Error      string            `json:"error"`
	Message    string            `json:"message"`
	StatusCode int               `json:"status_code,omitempty"`
	Fields     []core.FieldError `json:"fields,omitempty"`
}

func (d *Docs) serveTry(w http.ResponseWriter, r *http.Request) {
	// A JSON content type keeps cross-site HTML forms out: they cannot send
	// one without the browser asking the server first (CORS).
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, TryResponse{Error: &TryError{Error: "unsupported_media_type", Message: "send application/json"}})
		return
	}
	var req TryRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTryBody))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, TryResponse{Error: &TryError{Error: httpinteg.CodeBadRequest, Message: "the body must be a JSON object {\"event\", \"data\"}: " + err.Error()}})
		return
	}
	svc, err := d.tryTarget(req)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, TryResponse{Error: &TryError{Error: httpinteg.CodeBadRequest, Message: err.Error()}})
		return
	}
	ev, err := core.NewEventObject(req.Event, req.Data)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, TryResponse{Error: &TryError{Error: httpinteg.CodeBadRequest, Message: err.Error()}})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), d.cfg.tryTimeout)
	defer cancel()
	start := time.Now()
	rep, err := d.m.Request(ctx, svc.Location, ev)
	resp := TryResponse{CorrelationID: ev.CorrelationID, ElapsedMS: float64(time.Since(start).Microseconds()) / 1000, Reply: rep}
	if err != nil {
		status, body := httpinteg.Classify(err)
		resp.Error = &TryError{Error: body.Error, Message: body.Message}
		writeJSON(w, status, resp)
		return
	}
	if re := rep.RemoteError(); re != nil {
		// The try worked (200); the error reply is what the service said.
		_, body := httpinteg.ClassifyRemote(re)
		resp.Error = &TryError{Error: body.Error, Message: re.Message, StatusCode: re.StatusCode, Fields: re.Fields}
	}
	writeJSON(w, http.StatusOK, resp)
}

// tryTarget is the documented service a try request goes to; the event must
// route to a handler of its router.
func (d *Docs) tryTarget(req TryRequest) (Service, error) {
	svcs := d.services()
	var svc *Service
	switch {
	case req.Location == "" && len(svcs) == 1:
		svc = &svcs[0]
	case req.Location == "":
		return Service{}, errors.New("location is required: several services are documented")
	default:
		for i := range svcs {
			if svcs[i].Location == req.Location {
				svc = &svcs[i]
			}
		}
		if svc == nil {
			return Service{}, fmt.Errorf("location %q is not documented here", req.Location)
		}
	}
	if req.Event == "" {
		return Service{}, errors.New("event is required")
	}
	if svc.Router == nil {
		return Service{}, fmt.Errorf("%s has no router", svc.Location)
	}
	if _, ok := svc.Router.Match(req.Event); !ok {
		return Service{}, fmt.Errorf("no operation of %s handles event %q", svc.Location, req.Event)
	}
	return *svc, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b)
}
