package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// decode reads the JSON body into v strictly: one object, no unknown
// fields (mass assignment of id, org_id… is refused, AD-03), the right
// types. It answers the problem itself and returns false on any mistake.
func decode(c *gin.Context, v any) bool {
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt != "application/json" {
		abort(c, http.StatusUnsupportedMediaType, "Send a JSON body with Content-Type: application/json.")
		return false
	}
	body, err := io.ReadAll(c.Request.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		abort(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("The body is larger than %d bytes.", tooBig.Limit))
		return false
	}
	if err != nil {
		abort(c, http.StatusBadRequest, "The body could not be read.")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		badJSON(c, err)
		return false
	}
	if dec.More() {
		abort(c, http.StatusBadRequest, "The body holds more than one JSON value.")
		return false
	}
	return true
}

// badJSON answers a decoding error, naming the field when there is one.
func badJSON(c *gin.Context, err error) {
	var typeErr *json.UnmarshalTypeError
	field, msg := "", ""
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		field, msg = typeErr.Field, "must be "+jsonKind(typeErr.Type.Kind().String())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for this (golang/go#29035).
		field, msg = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "is not a field of this resource"
	default:
		abort(c, http.StatusBadRequest, "The body is not a valid JSON object.")
		return
	}
	writeProblem(c, Problem{Type: typeValidation, Title: "Your request is not valid.", Status: http.StatusBadRequest,
		Errors: []FieldError{{Field: field, Message: msg}}})
}

// jsonKind names a Go kind as JSON calls it.
func jsonKind(kind string) string {
	switch {
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "true or false"
	case strings.HasPrefix(kind, "int") || strings.HasPrefix(kind, "uint") || strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "slice" || kind == "array":
		return "an array"
	}
	return "an object"
}
