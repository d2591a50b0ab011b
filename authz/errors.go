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

// usedBasicAuth reports whether the client authenticated with HTTP Basic.
func usedBasicAuth(c *gin.Context) bool {
	_, _, ok := c.Request.BasicAuth()
	return ok
}

// challengeBasic names the Basic scheme on a 401 from a client-authenticated
// endpoint (RFC 6749 §5.2), the one scheme that works for every client.
func challengeBasic(c *gin.Context, status int) {
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Basic realm="foyer"`)
	}
}

// serverUnavailable answers a client-authenticated endpoint whose database
// is away: 503 with Retry-After and server_error, never an answer the client
// would act on, such as invalid_grant or a revocation's 200 (DB-03, DB-05).
func serverUnavailable(c *gin.Context) {
	c.Header("Retry-After", "5")
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusServiceUnavailable, gin.H{"error": "server_error", "error_description": "The server is temporarily unavailable. Retry shortly."})
}
