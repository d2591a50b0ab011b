package admin

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
)

// Problem types (RFC 9457 §3.1.1). Statuses whose title says it all use
// about:blank.
const (
	typeValidation = "urn:foyer:problem:validation"
	typeConflict   = "urn:foyer:problem:conflict"
)

// Problem is an RFC 9457 problem-details body.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError names one bad input field and what is wrong with it, in
// words safe to show.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// FieldMessage makes FieldError a fieldMessenger, like idp.FieldError.
func (e *FieldError) FieldMessage() (field, message string) { return e.Field, e.Message }

// fieldMessenger is an error about one input field, from admin or from the
// packages cmd passes in (idp.FieldError), which admin may not import.
type fieldMessenger interface {
	error
	FieldMessage() (field, message string)
}

// invalid returns a validation error on field.
func invalid(field, message string) error { return &FieldError{Field: field, Message: message} }

func writeProblem(c *gin.Context, p Problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	c.Header("Content-Type", "application/problem+json")
	c.AbortWithStatusJSON(p.Status, p)
}

// abort answers status with a problem whose title is the status text;
// detail must be safe to show.
func abort(c *gin.Context, status int, detail string) {
	writeProblem(c, Problem{Status: status, Detail: detail})
}

// notFound is the one answer for a record that does not exist and for one
// the caller may not see (AD-02): the two must be indistinguishable.
func notFound(c *gin.Context, what string) {
	abort(c, http.StatusNotFound, "No "+what+" with that ID.")
}

// fail answers err: a field error is 400 naming the field; anything else
// is logged and answered 503 when the database is away, 500 otherwise —
// never with err's text.
func (a *API) fail(c *gin.Context, op string, err error) {
	var fe fieldMessenger
	var status int
	switch {
	case errors.As(err, &fe):
		field, msg := fe.FieldMessage()
		writeProblem(c, Problem{Type: typeValidation, Title: "Your request is not valid.",
			Status: http.StatusBadRequest, Errors: []FieldError{{Field: field, Message: msg}}})
		a.log.InfoContext(c.Request.Context(), "admin: bad input", "op", op, "field", field)
		return
	case isUnavailable(err):
		status = http.StatusServiceUnavailable
		c.Header("Retry-After", "5")
	default:
		status = http.StatusInternalServerError
	}
	a.log.ErrorContext(c.Request.Context(), "admin: "+op, "err", err)
	abort(c, status, "")
}
