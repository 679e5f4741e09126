package web

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/imports"
)

// CSV imports of contacts: the pages /o/{org}/imports and
// /o/{org}/imports/{id} (the report), and /api/v1/imports, all for
// authz.ContactsImport. The upload routes (uploadRoutes) take bodies up to
// the imports' MaxBytes instead of Deps.MaxBodyBytes, and stream them to
// the blob store: a file is never held in memory.

// uploadRoutes are the routes whose body is a file to import: limitBody
// caps them at Imports.MaxBytes (plus the form's other fields) rather than
// Deps.MaxBodyBytes.
var uploadRoutes = []string{"POST /o/{org}/imports", "POST /api/v1/imports"}

// uploadReadTimeout is how long an upload may take to arrive, past the
// server's ReadTimeout (a 100 MiB file over a slow link).
const uploadReadTimeout = time.Hour

// importJSON is an import in the JSON API (see openapi.json).
type importJSON struct {
	ID           string              `json:"id"`
	Status       string              `json:"status"`
	Mode         string              `json:"mode"`
	FileName     string              `json:"file_name"`
	Bytes        int64               `json:"bytes"`
	Percent      int                 `json:"percent"`
	RowsTotal    int64               `json:"rows_total"`
	RowsImported int64               `json:"rows_imported"`
	RowsRejected int64               `json:"rows_rejected"`
	Rejected     []imports.Rejection `json:"rejected"`
	Error        string              `json:"error"`
	CreatedAt    time.Time           `json:"created_at"`
	StartedAt    *time.Time          `json:"started_at"`
	FinishedAt   *time.Time          `json:"finished_at"`
}

// importList is the body of GET /api/v1/imports.
type importList struct {
	Data []importJSON `json:"data"`
}

func toImportJSON(i imports.Import) importJSON {
	rejected := i.Rejected
	if rejected == nil {
		rejected = []imports.Rejection{}
	}
	return importJSON{ID: i.ID, Status: i.Status, Mode: i.Mode, FileName: i.FileName, Bytes: i.Bytes,
		Percent: i.Percent(), RowsTotal: i.RowsTotal, RowsImported: i.RowsImported, RowsRejected: i.RowsRejected,
		Rejected: rejected, Error: i.Error, CreatedAt: i.CreatedAt, StartedAt: i.StartedAt, FinishedAt: i.FinishedAt}
}

// allowSlowUpload lets the request's body arrive for uploadReadTimeout.
func allowSlowUpload(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(uploadReadTimeout))
}

// apiCreateImport takes the CSV file as the body (text/csv), the mode in
// ?mode= and the file's name in ?file_name=.
func (s *server) apiCreateImport() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "text/csv" {
			return gw.Errorf(gw.EUNSUPPORTED, "Send the CSV file as the body, with Content-Type: text/csv.")
		}
		allowSlowUpload(w)
		q := r.URL.Query()
		i, err := s.d.Imports.Start(r.Context(), gw.ScopeFrom(r.Context()),
			imports.Upload{Mode: q.Get("mode"), FileName: q.Get("file_name"), Body: r.Body})
		if err != nil {
			return err
		}
		writeImportAccepted(w, i)
		return nil
	})
}

// writeImportAccepted answers an upload with the import queued for it:
// 202, its Location and its JSON.
func writeImportAccepted(w http.ResponseWriter, i imports.Import) {
	w.Header().Set("Location", "/api/v1/imports/"+i.ID)
	writeJSON(w, http.StatusAccepted, toImportJSON(i))
}

// replayImportCreate answers an upload replayed with its Idempotency-Key
// (idempotentUpload): the import it created, as it is now.
func (s *server) replayImportCreate(w http.ResponseWriter, r *http.Request, id string) error {
	i, err := s.d.Imports.Get(r.Context(), gw.ScopeFrom(r.Context()), id)
	if err != nil {
		return err
	}
	writeImportAccepted(w, i)
	return nil
}

func (s *server) apiGetImport() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		i, err := s.d.Imports.Get(r.Context(), gw.ScopeFrom(r.Context()), r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toImportJSON(i))
		return nil
	})
}

func (s *server) apiListImports() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		list, err := s.d.Imports.List(r.Context(), gw.ScopeFrom(r.Context()))
		if err != nil {
			return err
		}
		out := importList{Data: make([]importJSON, len(list))}
		for i, imp := range list {
			out.Data[i] = toImportJSON(imp)
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

// importsPage is the data of imports.html.
type importsPage struct {
	Imports []imports.Import
	Columns []string
	// Active says an import is queued or running: no new upload.
	Active bool
	// MaxMiB is the largest file accepted.
	MaxMiB int64
}

func (importsPage) template() string { return "imports.html" }

func (s *server) importsData(r *http.Request) (importsPage, error) {
	list, err := s.d.Imports.List(r.Context(), gw.ScopeFrom(r.Context()))
	if err != nil {
		return importsPage{}, err
	}
	data := importsPage{Imports: list, Columns: imports.Columns, MaxMiB: s.d.Imports.MaxBytes() >> 20}
	for _, i := range list {
		data.Active = data.Active || i.Active()
	}
	return data, nil
}

func (s *server) pageImports() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		data, err := s.importsData(r)
		if err != nil {
			return err
		}
		f := newForm()
		f.Values["mode"] = imports.ModeAllOrNothing
		s.render(w, r, http.StatusOK, page{Title: "Import contacts", Form: f, Data: data})
		return nil
	})
}

// postImport reads the multipart form as a stream: the mode field (which
// the form puts first), then the file, which goes straight to the store.
func (s *server) postImport() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		allowSlowUpload(w)
		mode := ""
		i, err := func() (imports.Import, error) {
			mr, err := r.MultipartReader()
			if err != nil {
				return imports.Import{}, gw.Errorf(gw.EINVALID, "Choose a CSV file to import.")
			}
			for {
				part, err := mr.NextPart()
				if errors.Is(err, io.EOF) {
					return imports.Import{}, gw.Errorf(gw.EINVALID, "Choose a CSV file to import.")
				}
				if err != nil {
					if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
						return imports.Import{}, err
					}
					return imports.Import{}, gw.Errorf(gw.EMALFORMED, "The form could not be read.")
				}
				switch part.FormName() {
				case "mode":
					b, err := io.ReadAll(io.LimitReader(part, 64))
					if err != nil {
						return imports.Import{}, gw.Errorf(gw.EMALFORMED, "The form could not be read.")
					}
					mode = string(b)
				case "file":
					if part.FileName() == "" {
						return imports.Import{}, gw.Errorf(gw.EINVALID, "Choose a CSV file to import.")
					}
					return s.d.Imports.Start(r.Context(), gw.ScopeFrom(r.Context()),
						imports.Upload{Mode: mode, FileName: part.FileName(), Body: part})
				}
			}
		}()
		if err != nil {
			if httpStatus(gw.ErrorCode(err)) >= 500 {
				if _, ok := errors.AsType[*http.MaxBytesError](err); !ok {
					return err
				}
			}
			data, derr := s.importsData(r)
			if derr != nil {
				return derr
			}
			f := newForm()
			f.Values["mode"] = mode
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				err = gw.Errorf(gw.ETOOLARGE, "The file is larger than %d MiB: split it into smaller files.", data.MaxMiB)
			}
			return s.renderForm(w, r, page{Title: "Import contacts", Form: f, Data: data}, err)
		}
		s.flash(r, "File uploaded. It is imported in the background: this page shows its progress, and its report when it is done.")
		redirect(w, r, orgPath(r, "/imports/"+i.ID))
		return nil
	})
}

func (s *server) pageImport() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		i, err := s.d.Imports.Get(r.Context(), gw.ScopeFrom(r.Context()), r.PathValue("id"))
		if err != nil {
			return err
		}
		s.render(w, r, http.StatusOK, page{Title: "Import " + i.FileName, Data: importPage{i}})
		return nil
	})
}

// importPage is the data of import.html: one import's progress and outcome.
type importPage struct {
	imports.Import
}

func (importPage) template() string { return "import.html" }
