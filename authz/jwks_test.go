package authz

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/authz/keys"
)

type noKeys struct{}

func (noKeys) Current() (*keys.Set, error) { return nil, keys.ErrNotLoaded }
func (noKeys) CacheMaxAge() time.Duration  { return time.Minute }

// TestJWKSBeforeKeysLoad: relying parties cache what they get, so an
// instance without keys answers 503, never an empty key set (F2).
func TestJWKSBeforeKeysLoad(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.GET("/jwks", JWKS(noKeys{}))
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest("GET", "/jwks", nil))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("GET jwks without keys = %d (Retry-After %q), want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if w.Header().Get("Cache-Control") != "" {
		t.Errorf("the 503 is cacheable: Cache-Control %q", w.Header().Get("Cache-Control"))
	}
}
