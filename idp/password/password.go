// Package password hashes and verifies passwords with argon2id (RFC 9106),
// stored as PHC strings: $argon2id$v=19$m=47104,t=2,p=1$<salt>$<hash>.
//
// The PHC string records the parameters, so hashes made with older
// parameters still verify after the parameters change, and NeedsRehash tells
// the sign-in flow when to upgrade one.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultParams are chosen for Foyer's 2-core machines (AMD EPYC) from
// BenchmarkHash: one hash, single-threaded, median of 5 runs of 15, with
// the machine lightly loaded:
//
//	memory   t=1     t=2     t=3
//	19 MiB   16 ms   30 ms   37 ms
//	46 MiB   39 ms   63 ms  114 ms
//	64 MiB   52 ms  100 ms  148 ms
//
// 46 MiB with 2 passes takes about 63 ms, within the 50–100 ms aimed for:
// OWASP's first argon2id choice (46 MiB, 1 pass) with a second pass that
// this hardware has time for. An attacker's area-time cost (memory² ×
// passes) is about that of 64 MiB with 1 pass, for less memory per
// sign-in. At most
// GOMAXPROCS hashes run at once (see slots), so a burst of sign-ins holds
// at most 92 MiB on 2 cores. Hashes made with other parameters still
// verify, and idp rehashes them at the next sign-in.
var DefaultParams = Params{Memory: 46 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
	// Upper bounds on parameters read from a stored hash, so a corrupted or
	// planted hash cannot make verification allocate gigabytes.
	maxMemory  = 1 << 20 // 1 GiB in KiB
	maxTime    = 16
	maxThreads = 16
)

// ErrMalformed reports a stored hash that is not an argon2id PHC string.
var ErrMalformed = errors.New("malformed password hash")

var b64 = base64.RawStdEncoding

// slots caps how many hashes run at once at GOMAXPROCS. Each holds Memory
// (tens of MiB) and keeps a core busy for its whole run, so more of them at
// once only add memory, not throughput: a burst of sign-ins queues here
// instead of growing the heap by 46 MiB a request. It is process-wide
// because memory and cores are.
var slots = make(chan struct{}, runtime.GOMAXPROCS(0))

// idKey is argon2.IDKey run in one of the slots.
func idKey(pw, salt []byte, p Params, size uint32) []byte {
	slots <- struct{}{}
	defer func() { <-slots }()
	return argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, size)
}

// Hash returns the PHC string of password under p with a fresh random salt.
func Hash(password string, p Params) string {
	salt := make([]byte, saltLen)
	rand.Read(salt) // never returns an error (crypto/rand docs)
	key := idKey([]byte(password), salt, p, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches the PHC string encoded. The
// comparison is constant-time; an error means the stored hash is unusable.
func Verify(password, encoded string) (bool, error) {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return false, err
	}
	got := idKey([]byte(password), salt, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than p.
func NeedsRehash(encoded string, p Params) bool {
	got, _, _, err := decode(encoded)
	return err != nil || got != p
}

func decode(encoded string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrMalformed
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, ErrMalformed
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, ErrMalformed
	}
	if p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory || p.Time < 1 || p.Time > maxTime || p.Threads < 1 || p.Threads > maxThreads {
		return p, nil, nil, ErrMalformed
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, ErrMalformed
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, ErrMalformed
	}
	return p, salt, key, nil
}
