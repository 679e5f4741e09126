package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/billing"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/groundwork-dev/groundwork/internal/sso"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// view is a page's own data: one named struct per page template, declared
// beside the handler that fills it. Its template method names the template
// that renders it, so render picks the template from the data's type and a
// template cannot receive another page's data, a bare string or an untyped
// map. TestTemplatesExecuteWithTheirData executes every template with its
// view type, empty and full.
type view interface {
	// template is the page template's file name under templates/.
	template() string
}

// page is what every page template receives. Handlers fill Title, Form and
// Data; the rest is filled from the request by render.
type page struct {
	Title     string
	User      *sessionUser // the signed-in user, nil when anonymous
	Org       *orgInfo     // the organisation of /o/{org}/ pages
	Flash     string       // a one-time message from the previous request
	Form      *form        // submitted values and per-field errors
	Data      view         // the page's own data, which names its template
	RequestID string
	// BillingOn says billing is configured (Deps.Billing), for the
	// organisation's Billing link.
	BillingOn bool
	// Providers are the identity providers the log-in page offers.
	Providers []sso.Provider
	// Passkeys says passkeys are on (Deps.Passkeys): the pages offer them
	// and load their script.
	Passkeys bool
	// Banner is the organisation's billing notice; render loads it on
	// /o/{org}/ pages when billing is configured and the handler left it nil.
	Banner *billingBanner
	// Switch lists the signed-in user's organisations for the header's
	// organisation switcher; render loads it.
	Switch []org.Membership
}

// sessionUser is the signed-in user as pages show it.
type sessionUser struct {
	ID, Email string
	TwoFactor bool
}

// orgInfo is the current organisation as pages show it.
type orgInfo struct {
	ID, Slug, Name string
	Role           gw.Role
}

// templates holds one parsed template set per page: layout.html plus the page.
type templates map[string]*template.Template

var templateFuncs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"timep": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	// date is a time's day, for tables.
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	// sortth is a sortable column header of the contacts list (sort-th).
	"sortth": func(slug, query string, col sortColumn) sortHeader {
		return sortHeader{Slug: slug, Query: query, Col: col}
	},
	"join":  strings.Join,
	"query": url.QueryEscape,
	"can":   func(role gw.Role, perm string) bool { return canDo(role, perm) },
	"field": newField,
	// device describes a User-Agent header in a few words (shortDevice).
	"device": shortDevice,
	// amount formats an amount in a currency's minor unit: 1999 "eur" is "19.99 EUR".
	"amount": billing.FormatAmount,
	// Operator console helpers.
	"ms":      func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) },
	"pct":     func(f float64) string { return fmt.Sprintf("%.2f%%", f*100) },
	"f1":      func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"f2":      func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"dur":     func(d time.Duration) string { return d.Round(time.Second).String() },
	"ago":     func(t time.Time) string { return time.Since(t).Round(time.Second).String() + " ago" },
	"stclass": doctorStatusClass,
}

// fieldView is what the "field" template renders: a labelled input with its
// error message next to it.
type fieldView struct {
	Name, Label, Type, Value, Error, Auto string
	Required                              bool
}

// newField builds a fieldView for form f (which may be nil): {{template
// "field" (field .Form "email" "Email" "email" "email")}}. A label ending
// in "*" marks the field required.
func newField(f *form, name, label, typ, auto string) fieldView {
	v := fieldView{Name: name, Label: label, Type: typ, Auto: auto}
	if l, ok := strings.CutSuffix(label, "*"); ok {
		v.Label, v.Required = l, true
	}
	if f != nil {
		if !strings.Contains(typ, "password") {
			v.Value = f.Values[name]
		}
		v.Error = f.Errors[name]
	}
	return v
}

// parseTemplates parses every page template with the shared layout. A
// template that fails to parse is a bug caught at start-up (and by tests).
func parseTemplates() (templates, error) {
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	t := templates{}
	for _, name := range names {
		base := strings.TrimPrefix(name, "templates/")
		if base == "layout.html" {
			continue
		}
		tmpl, err := template.New("layout.html").Funcs(templateFuncs).ParseFS(templateFiles, "templates/layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", base, err)
		}
		t[base] = tmpl
	}
	return t, nil
}

// render writes the page template of p.Data's type with status, filling the
// page's request-derived fields: the user, the organisation, its billing
// banner and the flash message, which it pops from the session.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, p page) {
	if p.User == nil {
		p.User = userFrom(r.Context())
	}
	if p.Org == nil {
		p.Org = orgFrom(r.Context())
	}
	if p.Banner == nil && p.Org != nil && s.d.Billing != nil {
		p.Banner = s.loadBanner(r)
	}
	if p.User != nil && p.Switch == nil && s.d.Orgs != nil {
		// The header's switcher; a failure only leaves it out.
		if ms, err := s.d.Orgs.ForUser(r.Context(), p.User.ID); err == nil {
			p.Switch = ms
		}
	}
	if s.d.Sessions != nil && p.Flash == "" {
		p.Flash = s.d.Sessions.PopString(r.Context(), "flash")
	}
	s.execute(w, r, status, p)
}

// renderError writes error.html with status, for serveError. It reads the
// user and organisation from the context if a route put them there, and
// nothing else: it may run before the session is loaded (an unknown URL, a
// refused cross-origin form), and a flash message is kept for the next page.
func (s *server) renderError(w http.ResponseWriter, r *http.Request, status int, e errorPage) {
	s.execute(w, r, status, page{Title: http.StatusText(status), User: userFrom(r.Context()),
		Org: orgFrom(r.Context()), Banner: &billingBanner{}, Data: e})
}

// execute writes the page template of p.Data's type with status. Rendering
// into a buffer first means a template error becomes a clean 500 instead of
// half a page.
func (s *server) execute(w http.ResponseWriter, r *http.Request, status int, p page) {
	if p.Data == nil {
		panic("render: a page without view data")
	}
	name := p.Data.template()
	tmpl, ok := s.templates[name]
	if !ok {
		panic(fmt.Sprintf("render: no template %q", name))
	}
	p.RequestID = gw.RequestID(r.Context())
	p.BillingOn = s.d.Billing != nil
	p.Providers = s.d.SSO.Providers()
	p.Passkeys = s.d.Passkeys != nil
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		panic(fmt.Errorf("render %s: %w", name, err))
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// flash stores a one-time message shown on the next page rendered.
func (s *server) flash(r *http.Request, msg string) {
	if s.d.Sessions != nil {
		s.d.Sessions.Put(r.Context(), "flash", msg)
	}
}

// redirect answers a form post with 303 See Other to path.
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// handleStatic serves the embedded static files (CSS) under /static/. A
// name that is not a file (a directory, say) is a 404 of serveError's, not
// http.FileServer's own.
func (s *server) handleStatic() http.Handler {
	sub, _ := fs.Sub(staticFiles, "static") // cannot fail: the directory is embedded
	fsrv := http.StripPrefix("/static/", http.FileServerFS(sub))
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if st, err := fs.Stat(sub, name); err != nil || st.IsDir() {
			return gw.Errorf(gw.ENOTFOUND, "The requested resource was not found.")
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
		return nil
	})
}
