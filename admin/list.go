package admin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
)

// Page sizes of list responses.
const (
	defaultLimit = 50
	maxLimit     = 200
)

// List is every list response: one page of items, the cursor of the next
// page (absent on the last) and, where known, how many items match in all.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
	Total      *int   `json:"total,omitempty"`
}

var cursorEncoding = base64.RawURLEncoding.Strict()

// cursorCodec makes opaque, MACed cursors: the ID after which the next
// page starts, which the client must not forge or edit (AD-05).
type cursorCodec struct{ key []byte }

func (cc cursorCodec) encode(after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(after)) + "." + base64.RawURLEncoding.EncodeToString(cc.mac(after))
}

func (cc cursorCodec) decode(cursor string) (string, bool) {
	p, sig, ok := strings.Cut(cursor, ".")
	// Strict: one cursor has one spelling (no stray bits in the last
	// character), so a cursor is valid only exactly as issued.
	after, err1 := cursorEncoding.DecodeString(p)
	mac, err2 := cursorEncoding.DecodeString(sig)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(mac, cc.mac(string(after))) {
		return "", false
	}
	// The decoder skips newlines: one more check that this is the very
	// spelling issued.
	if cc.encode(string(after)) != cursor {
		return "", false
	}
	return string(after), true
}

func (cc cursorCodec) mac(after string) []byte {
	h := hmac.New(sha256.New, cc.key)
	h.Write([]byte("admin list cursor\x00" + after))
	return h.Sum(nil)[:16]
}

// page reads the limit and cursor query parameters.
func (a *API) page(c *gin.Context) (storage.Page, error) {
	p := storage.Page{Limit: defaultLimit}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return p, invalid("limit", "must be a whole number from 1 to "+strconv.Itoa(maxLimit))
		}
		p.Limit = n
	}
	if s := c.Query("cursor"); s != "" {
		after, ok := a.cursors.decode(s)
		if !ok {
			return p, invalid("cursor", "is not a cursor this API returned")
		}
		p.After = after
	}
	return p, nil
}

// next returns the cursor after a full page, "" after a short one.
func (a *API) next(p storage.Page, n int, lastID string) string {
	if n < p.Limit || lastID == "" {
		return ""
	}
	return a.cursors.encode(lastID)
}
