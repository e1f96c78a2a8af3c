package executor

import (
	"testing"
	"unsafe"

	"github.com/fhetune/fhetune/fhe"
)

// TestKeysPacked checks that a partition's keys are packed as the calibration runner's
// are (calibration.PackKeys): every keyswitching-key row starts where the previous one
// ends, and so does every bootstrap-key polynomial. The executor then runs bootstraps
// at the speed a profile prices; with tfhe-go's own row-by-row allocation its
// keyswitch runs slower for some n.
func TestKeysPacked(t *testing.T) {
	p := fhe.ParamsLiteral{GLWERank: 2, LogPolyDegree: 9, LWEDimension: 600, BRLevel: 2, BRLogBase: 15, KSLevel: 3, KSLogBase: 4}.MustCompile()
	part, err := newPartition(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := part.genKeys(1)(); err != nil {
		t.Fatal(err)
	}
	var prev uintptr
	rows := 0
	for _, lev := range part.evk.KeySwitchKey.Value {
		for _, row := range lev.Value {
			start := uintptr(unsafe.Pointer(&row.Value[0]))
			if rows > 0 && start != prev {
				t.Fatalf("keyswitching-key row %d starts at %#x, not where row %d ends (%#x)", rows, start, rows-1, prev)
			}
			prev = start + uintptr(len(row.Value))*8
			rows++
		}
	}
	polys := 0
	for _, ggsw := range part.evk.BlindRotateKey.Value {
		for _, glev := range ggsw.Value {
			for _, glwe := range glev.Value {
				for _, fp := range glwe.Value {
					start := uintptr(unsafe.Pointer(&fp.Coeffs[0]))
					if polys > 0 && start != prev {
						t.Fatalf("bootstrap-key polynomial %d starts at %#x, not where the previous ends (%#x)", polys, start, prev)
					}
					prev = start + uintptr(len(fp.Coeffs))*8
					polys++
				}
			}
		}
	}
	if rows == 0 || polys == 0 {
		t.Fatalf("%d keyswitching-key rows, %d bootstrap-key polynomials", rows, polys)
	}
}
