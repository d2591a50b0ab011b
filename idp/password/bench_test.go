package password

import (
	"fmt"
	"testing"
)

// BenchmarkHash measures one hash per candidate parameter set, single
// threaded, to choose DefaultParams for the hardware (see its comment):
//
//	go test -run '^$' -bench Hash -benchtime 20x ./idp/password
func BenchmarkHash(b *testing.B) {
	for _, mib := range []uint32{19, 46, 64} {
		for _, passes := range []uint32{1, 2, 3} {
			p := Params{Memory: mib * 1024, Time: passes, Threads: 1}
			b.Run(fmt.Sprintf("m=%dMiB/t=%d", mib, passes), func(b *testing.B) {
				for b.Loop() {
					Hash("correct horse battery staple", p)
				}
			})
		}
	}
}
