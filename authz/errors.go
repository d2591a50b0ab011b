package authz

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"
)

// cleanDescription keeps error descriptions within RFC 6749 §5.2's allowed
// characters (%x20-21 / %x23-5B / %x5D-7E): fosite's hints quote parameter
// names, and clients may choke on quotes, backslashes or control bytes
// (TK-12).
func cleanDescription(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\':
			return '/'
		case r < 0x20 || r > 0x7e:
			return ' '
		}
		return r
	}, s)
}

// clean returns err as an RFC6749Error whose description and hint are clean.
func clean(err error) *fosite.RFC6749Error {
	rfc := fosite.ErrorToRFC6749Error(err)
	out := *rfc
	out.DescriptionField = cleanDescription(rfc.DescriptionField)
	out.HintField = cleanDescription(rfc.HintField)
	return &out
}

// usedBasicAuth reports whether the client authenticated with HTTP Basic,
// so a 401 names that scheme (RFC 6749 §5.2).
func usedBasicAuth(c *gin.Context) bool {
	_, _, ok := c.Request.BasicAuth()
	return ok
}

// challengeBasic adds WWW-Authenticate to an invalid_client answer.
func challengeBasic(c *gin.Context, rfc *fosite.RFC6749Error) {
	if rfc.CodeField == http.StatusUnauthorized && usedBasicAuth(c) {
		c.Header("WWW-Authenticate", `Basic realm="foyer"`)
	}
}
