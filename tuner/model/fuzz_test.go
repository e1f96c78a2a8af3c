package model_test

import (
	"bytes"
	"testing"

	"github.com/fhetune/fhetune/tuner/model"
)

// FuzzUnmarshal feeds arbitrary bytes to the model file decoder, both as they are and with
// the length and checksum fixed so that the body parser is reached. It must never panic,
// and whatever it accepts must encode back to the very same bytes (the format has one
// encoding per network). Committed seeds live in testdata/fuzz/FuzzUnmarshal.
func FuzzUnmarshal(f *testing.F) {
	for _, net := range sampleNetworks(f) {
		b, err := net.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range [][]byte{data, fixCRC(data)} {
			var n model.Network
			if err := n.UnmarshalBinary(in); err != nil {
				continue
			}
			out, err := n.MarshalBinary()
			if err != nil {
				t.Fatalf("decoded network does not encode: %v", err)
			}
			if !bytes.Equal(out, in) {
				t.Fatalf("decoded network encodes to other bytes")
			}
		}
	})
}
