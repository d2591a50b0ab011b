package web

import "github.com/gin-gonic/gin"

// SecureHeaders sets defaults that suit an API: nothing may frame, sniff,
// embed or cache a response unless a route says otherwise. Page groups
// replace the CSP with a nonce-based one. HSTS is sent only when the public
// issuer is https, since browsers ignore it over http and it would pin
// localhost in dev.
func SecureHeaders(https bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if https {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		c.Next()
	}
}
