package idp

import "log/slog"

// FieldError is a client mistake in one input field. The CLI prints it as
// "field: message"; the admin API turns it into a problem-details body.
type FieldError struct {
	Field   string // the input's name: "email", "slug", "role"
	Message string // plain words, safe to show
	Err     error  // the cause, for logs and errors.Is; may be nil
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }
func (e *FieldError) Unwrap() error { return e.Err }

// FieldMessage returns the field and the message, for a page that shows
// the message next to its field without importing idp.
func (e *FieldError) FieldMessage() (field, message string) { return e.Field, e.Message }

// LogValue logs a client mistake with its field; such errors are Info, not Error.
func (e *FieldError) LogValue() slog.Value {
	return slog.GroupValue(slog.String("field", e.Field), slog.String("message", e.Message))
}
