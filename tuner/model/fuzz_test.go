package model_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/fhetune/fhetune/tuner/model"
)

// FuzzUnmarshal feeds arbitrary bytes to the model file decoder, both as they are and with
// the length and checksum fixed so that the body parser is reached. It must never panic,
// and whatever it accepts in the current version must encode back to the very same bytes
// (the format has one encoding per network); a file of an older version it accepts must
// encode to current-version bytes that decode and encode to themselves. The in-code seeds
// are sampleNetworks, quantization-aware ones included; committed seeds live in
// testdata/fuzz/FuzzUnmarshal (valid_bare, valid_cnn and valid_mlp of version 1,
// valid_layers_v2 of version 2, valid_qat_v3 of version 3, with quant layers and weight
// quantizers).
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
			if binary.LittleEndian.Uint32(in[8:12]) == model.FormatVersion {
				if !bytes.Equal(out, in) {
					t.Fatalf("decoded network encodes to other bytes")
				}
				continue
			}
			var again model.Network
			if err := again.UnmarshalBinary(out); err != nil {
				t.Fatalf("an older-version network re-encodes to bytes that do not decode: %v", err)
			}
			if out2, err := again.MarshalBinary(); err != nil || !bytes.Equal(out2, out) {
				t.Fatalf("an older-version network's re-encoding is not stable (%v)", err)
			}
		}
	})
}
