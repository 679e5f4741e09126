package errtrack

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/getsentry/sentry-go"
)

// Replacements for what scrubbing removes.
const (
	redacted        = "[redacted]"
	redactedEmail   = "[email]"
	redactedAPIKey  = "[api-key]"
	sensitiveTermRE = `pass|pwd|secret|token|key|auth|cookie|session|csrf|signature|credential|dsn|totp|jwt|bearer`
)

// sensitiveNameRE matches names (of fields, headers, parameters, path
// wildcards) whose values are secrets: passwords, tokens, keys, cookies,
// sessions, signatures...
var sensitiveNameRE = regexp.MustCompile(`(?i)` + sensitiveTermRE)

// sensitiveName reports whether a value named name must not be sent.
func sensitiveName(name string) bool { return sensitiveNameRE.MatchString(name) }

// droppedHeaders are request headers never sent besides those with a
// sensitive name: they carry the client's IP address.
var droppedHeaders = map[string]bool{
	"forwarded": true, "x-forwarded-for": true, "x-real-ip": true,
	"cf-connecting-ip": true, "true-client-ip": true,
}

// stringRule replaces what re matches in a string with repl (regexp
// expansion syntax).
type stringRule struct {
	re   *regexp.Regexp
	repl string
}

// stringRules scrub secrets and personal data from free text, in order:
// values of secret-named fields first (key=value, "key": value, key:value),
// then query strings, credentials in URLs, bearer tokens, JWTs, Groundwork
// API keys (gw_...) and email addresses wherever they appear.
var stringRules = []stringRule{
	// "password": "x" (JSON)
	{regexp.MustCompile(`(?i)("[A-Za-z0-9_.\-]*(?:` + sensitiveTermRE + `)[A-Za-z0-9_.\-]*"\s*:\s*)("(?:[^"\\]|\\.)*"|[^\s,}\]]+)`), `${1}"` + redacted + `"`},
	// password=x, token = "x" (forms, query strings, logfmt, cookies)
	{regexp.MustCompile(`(?i)([A-Za-z0-9_.\-]*(?:` + sensitiveTermRE + `)[A-Za-z0-9_.\-]*)(\s*=\s*)("[^"]*"|'[^']*'|[^\s&,;"'<>)}\]]+)`), `${1}${2}` + redacted},
	// Password:x (Go's %v of maps and structs); "key: value" with a space
	// is left alone, as Go error chains read "action: cause".
	{regexp.MustCompile(`(?i)([A-Za-z0-9_.\-]*(?:` + sensitiveTermRE + `)[A-Za-z0-9_.\-]*):([^\s/\]},&;"'][^\s\]},&;"']*)`), `${1}:` + redacted},
	// ?a=b&c=d: every query string, whatever its parameters
	{regexp.MustCompile(`\?[^\s"'<>#?=]+=[^\s"'<>#]*`), `?` + redacted},
	// scheme://user:password@host
	{regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/@:]*:[^\s/@]*@`), `${1}` + redacted + `@`},
	{regexp.MustCompile(`(?i)\bbearer\s+[^\s"',;]+`), `Bearer ` + redacted},
	{regexp.MustCompile(`\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*`), redacted},
	{regexp.MustCompile(`\bgw_[A-Za-z0-9_\-]{8,}`), redactedAPIKey},
	{regexp.MustCompile(`(?i)[a-z0-9._%+\-]+(?:@|%40)[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}`), redactedEmail},
}

// ScrubString removes secrets and personal data from free text: values of
// fields named like passwords, tokens, keys, cookies or sessions; query
// strings; URL credentials; bearer tokens; JWTs; Groundwork API keys
// (gw_...); email addresses.
func ScrubString(s string) string {
	for _, r := range stringRules {
		s = r.re.ReplaceAllString(s, r.repl)
	}
	return s
}

// Scrub removes secrets and personal data from ev before it is sent; it is
// the client's BeforeSend hook. It drops cookies, query strings, request
// bodies, the environment and secret or IP-carrying headers; keeps only the
// user's ID; strips query strings and credentials from the URL; and scrubs
// every free-text field (message, exception types and values, tags,
// contexts, breadcrumbs, fingerprint, transaction) with ScrubString, where
// secrets hide in error messages. It returns ev.
func Scrub(ev *sentry.Event) *sentry.Event {
	if ev == nil {
		return nil
	}
	ev.Message = ScrubString(ev.Message)
	ev.Transaction = ScrubString(ev.Transaction)
	for i, f := range ev.Fingerprint {
		ev.Fingerprint[i] = ScrubString(f)
	}
	for i := range ev.Exception {
		e := &ev.Exception[i]
		e.Type = ScrubString(e.Type)
		e.Value = ScrubString(e.Value)
		scrubStacktrace(e.Stacktrace)
	}
	for i := range ev.Threads {
		scrubStacktrace(ev.Threads[i].Stacktrace)
	}
	for k, v := range ev.Tags {
		ev.Tags[k] = ScrubString(v)
	}
	for name, c := range ev.Contexts {
		ev.Contexts[name] = scrubMap(c)
	}
	for _, b := range ev.Breadcrumbs {
		ScrubBreadcrumb(b)
	}
	ev.User = sentry.User{ID: ScrubString(ev.User.ID)}
	if ev.Request != nil {
		scrubRequest(ev.Request)
	}
	return ev
}

// ScrubBreadcrumb removes secrets and personal data from a breadcrumb's
// message and data; it is the client's BeforeBreadcrumb hook. It returns b.
func ScrubBreadcrumb(b *sentry.Breadcrumb) *sentry.Breadcrumb {
	if b == nil {
		return nil
	}
	b.Message = ScrubString(b.Message)
	b.Data = scrubMap(b.Data)
	return b
}

func scrubRequest(r *sentry.Request) {
	r.Cookies = ""
	r.QueryString = ""
	r.Data = ""
	r.Env = nil
	r.URL = scrubURL(r.URL)
	for k, v := range r.Headers {
		if sensitiveName(k) || droppedHeaders[strings.ToLower(k)] {
			delete(r.Headers, k)
			continue
		}
		r.Headers[k] = ScrubString(v)
	}
}

// scrubURL drops the query string, fragment and user info of a URL, then
// scrubs what is left.
func scrubURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return ScrubString(s)
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return ScrubString(u.String())
}

func scrubStacktrace(st *sentry.Stacktrace) {
	if st == nil {
		return
	}
	for i := range st.Frames {
		st.Frames[i].Vars = nil
	}
}

// scrubMap scrubs a context or breadcrumb data map: values under a
// sensitive key are redacted, other strings scrubbed, nested maps and
// slices walked.
func scrubMap(m map[string]any) map[string]any {
	for k, v := range m {
		if sensitiveName(k) {
			m[k] = redacted
			continue
		}
		m[k] = scrubValue(v)
	}
	return m
}

func scrubValue(v any) any {
	switch v := v.(type) {
	case string:
		return ScrubString(v)
	case []string:
		for i := range v {
			v[i] = ScrubString(v[i])
		}
		return v
	case map[string]any:
		return scrubMap(v)
	case map[string]string:
		for k, s := range v {
			if sensitiveName(k) {
				v[k] = redacted
			} else {
				v[k] = ScrubString(s)
			}
		}
		return v
	case []any:
		for i := range v {
			v[i] = scrubValue(v[i])
		}
		return v
	default:
		return v // numbers, booleans and other types carry no free text
	}
}
