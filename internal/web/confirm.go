package web

import "net/http"

// confirmPage is the data of confirm.html: the question a destructive
// one-click action asks before it acts. Its form posts to Action again with
// confirm=yes; it works without JavaScript.
type confirmPage struct {
	Action   string // the path the confirming form posts to
	Question string // what will happen, as a question
	Button   string // the label of the confirming button, e.g. "Delete Grace Hopper"
	Cancel   string // where Cancel leads: the page the action was taken on
}

func (confirmPage) template() string { return "confirm.html" }

// confirmed reports whether r, a parsed form post, confirms its action
// (confirm=yes); when not, it renders the question c and the caller stops.
func (s *server) confirmed(w http.ResponseWriter, r *http.Request, title string, c confirmPage) bool {
	if r.PostForm.Get("confirm") == "yes" {
		return true
	}
	c.Action = r.URL.Path
	s.render(w, r, http.StatusOK, page{Title: title, Data: c})
	return false
}
