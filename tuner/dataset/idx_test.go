package dataset_test

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/tuner/dataset"
)

func TestReadIDX(t *testing.T) {
	body := []byte{0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255}
	raw := idxBytes(dataset.IDXImagesMagic, []int{3, 2, 2}, body)
	for name, in := range map[string][]byte{"raw": raw, "gzip": gz(raw)} {
		t.Run(name, func(t *testing.T) {
			a, err := dataset.ReadIDX(bytes.NewReader(in), "img.idx", 3)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(a.Dims, []int{3, 2, 2}) || !bytes.Equal(a.Data, body) {
				t.Errorf("Dims %v Data %v", a.Dims, a.Data)
			}
		})
	}
	labels, err := dataset.ReadIDX(bytes.NewReader(idxBytes(dataset.IDXLabelsMagic, []int{4}, []byte{9, 0, 3, 1})), "lab.idx", 1)
	if err != nil || !slices.Equal(labels.Dims, []int{4}) || !bytes.Equal(labels.Data, []byte{9, 0, 3, 1}) {
		t.Errorf("labels %+v, %v", labels, err)
	}
}

func TestReadIDXErrors(t *testing.T) {
	good := idxBytes(dataset.IDXImagesMagic, []int{2, 3, 4}, make([]byte, 24))
	badCRC := gz(good)
	badCRC[len(badCRC)-6] ^= 0xff // inside the CRC-32 of the trailer
	tests := []struct {
		name  string
		input []byte
		ndims int
		want  string
		is    error
	}{
		{"labels magic for images", idxBytes(dataset.IDXLabelsMagic, []int{2}, []byte{1, 2}), 3,
			"dataset: x.idx: byte offset 0: IDX magic 0x00000801, want 0x00000803 (unsigned bytes, 3 dimension(s))", nil},
		{"images magic for labels", good, 1,
			"dataset: x.idx: byte offset 0: IDX magic 0x00000803, want 0x00000801 (unsigned bytes, 1 dimension(s))", nil},
		{"float data", idxBytes(0x00000d03, []int{1, 1, 1}, make([]byte, 4)), 3,
			"dataset: x.idx: byte offset 0: IDX magic 0x00000d03, want 0x00000803 (unsigned bytes, 3 dimension(s))", nil},
		{"empty", nil, 3, "dataset: x.idx: byte offset 0: IDX header: input ends early (truncated file or gzip stream): unexpected EOF", io.ErrUnexpectedEOF},
		{"short header", good[:10], 3, "dataset: x.idx: byte offset 10: IDX header: input ends early (truncated file or gzip stream): unexpected EOF", io.ErrUnexpectedEOF},
		{"wrong magic in short header", []byte{0, 0, 8, 1, 0}, 3, "dataset: x.idx: byte offset 0: IDX magic 0x00000801, want 0x00000803 (unsigned bytes, 3 dimension(s))", nil},
		{"zero dimension", idxBytes(dataset.IDXImagesMagic, []int{5, 0, 4}, nil), 3, "dataset: x.idx: byte offset 8: IDX dimension 2 is 0", dataset.ErrEmpty},
		{"truncated body", good[:len(good)-5], 3,
			"dataset: x.idx: byte offset 35: IDX body ends after 19 of 24 bytes: input ends early (truncated file or gzip stream): unexpected EOF", io.ErrUnexpectedEOF},
		{"truncated gzip", gz(good)[:len(gz(good))-12], 3, "", io.ErrUnexpectedEOF},
		{"trailing data", append(slices.Clone(good), 7), 3, "dataset: x.idx: byte offset 40: trailing data after the IDX body of 24 bytes", nil},
		{"bad gzip checksum", badCRC, 3, "dataset: x.idx: byte offset 40: read: gzip: invalid checksum", nil},
		{"huge announcement", idxBytes(dataset.IDXImagesMagic, []int{1 << 31, 1 << 31, 2}, nil), 3,
			"dataset: x.idx: byte offset 4: IDX dimensions [2147483648 2147483648 2] announce more than 8589934592 bytes", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dataset.ReadIDX(bytes.NewReader(tc.input), "x.idx", tc.ndims)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != "" && err.Error() != tc.want {
				t.Errorf("error\n%s\nwant\n%s", err, tc.want)
			}
			var fe *dataset.FormatError
			if !errors.As(err, &fe) || fe.File != "x.idx" || fe.Offset < 0 || !errors.Is(err, dataset.ErrFormat) {
				t.Errorf("error %v is not a FormatError with an offset matching ErrFormat", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not match %v", err, tc.is)
			}
			if !strings.HasPrefix(err.Error(), "dataset: x.idx: byte offset ") {
				t.Errorf("error %q does not name the file and offset", err)
			}
		})
	}
}
