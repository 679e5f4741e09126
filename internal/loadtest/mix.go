package loadtest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The operations of the mix, by name.
const (
	OpGet       = "get contact"
	OpList      = "list contacts"
	OpSearch    = "search contacts"
	OpCreate    = "create contact"
	OpUpdate    = "update contact"
	OpLoginPage = "log-in page"
	OpExport    = "request export"
)

// Op is one kind of request of the mix with its share.
type Op struct {
	// Name is one of the Op* names.
	Name string `json:"name"`
	// Method and Path show what it requests ({id} stands for a contact).
	Method string `json:"method"`
	Path   string `json:"path"`
	// Weight is its share of the requests, relative to the other weights.
	Weight int `json:"weight"`
}

// DefaultMix is a mostly-reading API client with some writes, people
// opening the log-in page, and now and then an export: reads outnumber
// writes about four to one, as in most B2B tools.
func DefaultMix() []Op {
	return []Op{
		{OpGet, http.MethodGet, "/api/v1/contacts/{id}", 35},
		{OpList, http.MethodGet, "/api/v1/contacts?limit=50", 15},
		{OpSearch, http.MethodGet, "/api/v1/contacts?q=…", 15},
		{OpCreate, http.MethodPost, "/api/v1/contacts", 10},
		{OpUpdate, http.MethodPatch, "/api/v1/contacts/{id}", 10},
		{OpLoginPage, http.MethodGet, "/login", 14},
		{OpExport, http.MethodPost, "/api/v1/exports", 1},
	}
}

// searchTerms are the words searches look for; the seeded contacts' names
// and companies contain them.
var searchTerms = []string{"ada", "grace", "alan", "edsger", "barbara", "acme", "globex", "initech"}

// Target is what the mix sends requests to.
type Target struct {
	// BaseURL is the deployment's URL, without a trailing slash.
	BaseURL string
	// APIKey authenticates the API requests.
	APIKey string
	// ContactIDs are existing contacts of the key's organisation, for the
	// reads and updates.
	ContactIDs []string
}

// Targeter returns a vegeta targeter that picks each request from mix by
// weight. It is safe for the attacker's concurrent workers.
func (t Target) Targeter(mix []Op) vegeta.Targeter {
	total := 0
	for _, op := range mix {
		total += op.Weight
	}
	auth := http.Header{"Authorization": {"Bearer " + t.APIKey}, "Content-Type": {"application/json"}}
	return func(tgt *vegeta.Target) error {
		n := rand.IntN(max(total, 1))
		op := mix[len(mix)-1]
		for _, o := range mix {
			if n < o.Weight {
				op = o
				break
			}
			n -= o.Weight
		}
		*tgt = t.request(op.Name, auth)
		return nil
	}
}

// request builds one request of operation op.
func (t Target) request(op string, auth http.Header) vegeta.Target {
	id := ""
	if len(t.ContactIDs) > 0 {
		id = t.ContactIDs[rand.IntN(len(t.ContactIDs))]
	}
	api := t.BaseURL + "/api/v1"
	switch op {
	case OpGet:
		return vegeta.Target{Method: http.MethodGet, URL: api + "/contacts/" + id, Header: auth}
	case OpList:
		return vegeta.Target{Method: http.MethodGet, URL: api + "/contacts?limit=50", Header: auth}
	case OpSearch:
		q := searchTerms[rand.IntN(len(searchTerms))]
		return vegeta.Target{Method: http.MethodGet, URL: api + "/contacts?q=" + url.QueryEscape(q), Header: auth}
	case OpCreate:
		return vegeta.Target{Method: http.MethodPost, URL: api + "/contacts", Header: auth, Body: contactJSON(rand.IntN(1 << 30))}
	case OpUpdate:
		body := fmt.Sprintf(`{"phone":"+44 20 7946 %04d"}`, rand.IntN(10000))
		return vegeta.Target{Method: http.MethodPatch, URL: api + "/contacts/" + id, Header: auth, Body: []byte(body)}
	case OpExport:
		return vegeta.Target{Method: http.MethodPost, URL: api + "/exports", Header: auth, Body: []byte(`{"tables":["contacts"],"format":"csv"}`)}
	default: // OpLoginPage
		return vegeta.Target{Method: http.MethodGet, URL: t.BaseURL + "/login"}
	}
}

// contactJSON is the body of a contact to create, its name and company
// drawn from searchTerms so that searches find it.
func contactJSON(n int) []byte {
	first := searchTerms[n%5]
	company := searchTerms[5+n%3]
	return fmt.Appendf(nil, `{"name":"%s Loadtest %d","email":"lt%d@example.com","company":"%s Ltd","tags":["loadtest"]}`,
		strings.ToUpper(first[:1])+first[1:], n, n, strings.ToUpper(company[:1])+company[1:])
}

// classify names the operation of a result from its method and URL, and
// says whether its status is what that operation answers when it works.
// An export refused with 409 because one is already running is an answer
// the API gives by design, not a failure.
func classify(method, rawURL string, code uint16) (op string, ok bool) {
	u, err := url.Parse(rawURL)
	path := ""
	if err == nil {
		path = u.Path
	}
	switch {
	case path == "/login":
		op = OpLoginPage
	case method == http.MethodPost && strings.HasSuffix(path, "/api/v1/exports"):
		return OpExport, code == 202 || code == 409
	case method == http.MethodPost:
		op = OpCreate
	case method == http.MethodPatch:
		op = OpUpdate
	case strings.HasSuffix(path, "/api/v1/contacts") && u.Query().Has("q"):
		op = OpSearch
	case strings.HasSuffix(path, "/api/v1/contacts"):
		op = OpList
	default:
		op = OpGet
	}
	return op, code >= 200 && code < 300
}
