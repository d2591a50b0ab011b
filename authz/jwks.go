package authz

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/authz/keys"
)

// KeySource is what the JWKS endpoint needs from the key manager.
type KeySource interface {
	Current() (*keys.Set, error)
	CacheMaxAge() time.Duration
}

// JWKS serves the public signing keys from memory. Until a key set has been
// loaded it answers 503, never an empty set: relying parties cache what they
// get, and an empty cached set would reject every token (F2).
func JWKS(src KeySource) gin.HandlerFunc {
	return func(c *gin.Context) {
		set, err := src.Current()
		if err != nil {
			c.Header("Retry-After", "5")
			c.Header("Content-Type", "application/problem+json")
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{
				"title": http.StatusText(http.StatusServiceUnavailable), "status": http.StatusServiceUnavailable,
				"detail": "Signing keys are not loaded yet. Try again shortly.",
			})
			return
		}
		// Shorter than the pre-publication window, so a cached copy always
		// holds the next key before it signs (TJ-04).
		c.Header("Cache-Control", fmt.Sprintf("public, max-age=%d", int(src.CacheMaxAge().Seconds())))
		// Public data that browser-based relying parties fetch cross-origin.
		c.Header("Access-Control-Allow-Origin", "*")
		c.Data(http.StatusOK, "application/json", set.JWKS())
	}
}
