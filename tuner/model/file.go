package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/atomicfile"
	"github.com/fhetune/fhetune/fhe/circuit"
)

// The model file format, version 3. All integers are unsigned little-endian and all real
// numbers IEEE-754 float64 little-endian.
//
//	offset  size  field
//	0       8     magic "FHTMODEL"
//	8       4     uint32 format version (3)
//	12      8     uint64 body length L
//	20      L     body
//	20+L    4     uint32 CRC-32 (IEEE) of bytes 0 .. 20+L−1
//
// The body, in order (str is a uint32 byte count ≤ 4096 followed by UTF-8 bytes):
//
//	str     spec string
//	str     data set name
//	uint32  M, number of meta entries (≤ 256), then M × (str key, str value), keys ascending
//	uint32  classes (2 .. 65536)
//	uint32  rank R (1 .. 3), then R × uint32 input dimensions (1 .. 65536)
//	uint8   standardizer flag: 0 none, 1 present; when 1, F means then F stds, F = the
//	        product of the input dimensions
//	uint32  layer count (1 .. 1024), then one record per layer:
//	  uint8 kind, then by kind:
//	  1 linear      uint32 out, in; uint8 mask flag; out·in weights (row-major);
//	                out biases; mask bitmap when the flag is 1; weight quantizer
//	  2 conv2d      uint32 outC, inC, kh, kw, stride, pad, inH, inW, dilation (≥ 1),
//	                groups (≥ 1, dividing inC); uint8 mask flag; outC·(inC/groups)·kh·kw
//	                weights (row-major, see [Conv2d]); outC biases; mask bitmap when the
//	                flag is 1; weight quantizer
//	  3 avgpool2d   uint32 k, stride, c, inH, inW
//	  4 relu        nothing
//	  5 flatten     nothing
//	  6 activation  uint8 function (1 leaky_relu, 2 sigmoid, 3 tanh, 4 gelu); alpha
//	  7 maxpool2d   uint32 k, stride, c, inH, inW
//	  8 quant       uint8 bits (1 .. 16); uint8 flags (bit 0 power_of_two, other bits
//	                zero); lo; hi (lo ≤ hi), see [Quant]
//
// A weight quantizer ([Linear.Quant], [Conv2d.Quant]) is a uint8 flag, 0 none or 1
// present; when 1, it is followed by uint8 bits (1 .. 16), uint8 flags (bit 0
// power_of_two, bit 1 int_bias, other bits zero) and uint64 bias_limit (≤ 2^63 − 1),
// the fields of [circuit.WeightQuant].
//
// A mask bitmap for n weights is ⌈n/8⌉ bytes; bit i%8 (least significant first) of byte
// i/8 is set when weight i is free and clear when it is pinned at zero; unused bits are
// zero. Every real number is finite. The body must be consumed exactly, and the network
// it describes must pass [Network.Validate] (which also checks that a quant layer feeds
// every layer with a weight quantizer). Writers of version 3 emit exactly this layout (a
// dilation or group count of 0 is written as 1), so equal networks give equal files.
//
// Versions 1 and 2, which this package still reads, re-encode as version 3. Version 2 is
// version 3 without kind 8 and without the weight quantizer at the end of the linear and
// conv2d records. Version 1 is version 2 without the conv2d record's dilation and groups
// (its convolutions decode with Dilation = Groups = 1) and without kinds 6 and 7.
const (
	// FormatVersion is the model file format version this package writes; it reads
	// every version from 1 to FormatVersion.
	FormatVersion = 3
	// Magic opens every model file.
	Magic = "FHTMODEL"

	minFormatVersion = 1
	headerSize       = 8 + 4 + 8
	trailerSize      = 4
	maxString        = 4096
	maxMeta          = 256
	maxLayers        = 1024
	maxRank          = 3
	kindLinear       = 1
	kindConv2d       = 2
	kindAvgPool      = 3
	kindReLU         = 4
	kindFlatten      = 5
	kindActivation   = 6
	kindMaxPool      = 7
	kindQuant        = 8
	maskAbsent       = 0
	maskPresent      = 1
	wqAbsent         = 0
	wqPresent        = 1
	flagPowerOfTwo   = 1 << 0 // quant and weight quantizer flags
	flagIntBias      = 1 << 1 // weight quantizer flags
	stdAbsent        = 0
	stdPresent       = 1
	maxFileBytes     = 1 << 34 // 16 GiB: far above any network this tool trains
)

// kindNames names the layer kinds in the file (index + 1).
var kindNames = []string{"linear", "conv2d", "avgpool2d", "relu", "flatten", "activation", "maxpool2d", "quant"}

// lastKind returns the highest layer kind of a format version: kinds 1 .. lastKind exist.
func lastKind(version int) int {
	switch version {
	case 1:
		return kindFlatten
	case 2:
		return kindMaxPool
	}
	return kindQuant
}

// activationCodes numbers the activation functions in the file (index + 1).
var activationCodes = []string{LeakyReLU, Sigmoid, Tanh, GELU}

// FileVersion returns the format version written in the header of a model file's
// bytes, or an error wrapping ErrFormat when they do not start like a model file.
func FileVersion(data []byte) (int, error) {
	if len(data) < headerSize || string(data[:len(Magic)]) != Magic {
		return 0, fmt.Errorf("%w: no %s header", ErrFormat, Magic)
	}
	return int(binary.LittleEndian.Uint32(data[8:12])), nil
}

// MarshalBinary encodes the network in the model file format (see [FormatVersion]). The
// network must pass [Network.Validate].
func (n *Network) MarshalBinary() ([]byte, error) {
	if err := n.Validate(); err != nil {
		return nil, fmt.Errorf("model: encode: %w", err)
	}
	if len(n.InShape) > maxRank {
		return nil, shapeErr("input shape %v has more than %d dimensions", n.InShape, maxRank)
	}
	if len(n.Meta) > maxMeta {
		return nil, fmt.Errorf("model: encode: %d meta entries, at most %d", len(n.Meta), maxMeta)
	}
	if len(n.Layers) > maxLayers {
		return nil, fmt.Errorf("model: encode: %d layers, at most %d", len(n.Layers), maxLayers)
	}
	e := &encoder{buf: make([]byte, 0, headerSize+8*n.NumParams()+1024)}
	e.buf = append(e.buf, Magic...)
	e.u32(FormatVersion)
	e.u64(0) // body length, filled in below
	if err := e.str(n.Spec); err != nil {
		return nil, fmt.Errorf("model: encode spec: %w", err)
	}
	if err := e.str(n.Dataset); err != nil {
		return nil, fmt.Errorf("model: encode data set name: %w", err)
	}
	keys := make([]string, 0, len(n.Meta))
	for k := range n.Meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.u32(uint32(len(keys)))
	for _, k := range keys {
		if err := e.str(k); err != nil {
			return nil, fmt.Errorf("model: encode meta key: %w", err)
		}
		if err := e.str(n.Meta[k]); err != nil {
			return nil, fmt.Errorf("model: encode meta %q: %w", k, err)
		}
	}
	if err := e.dims(n.Classes); err != nil {
		return nil, fmt.Errorf("model: encode classes: %w", err)
	}
	e.u32(uint32(len(n.InShape)))
	for _, d := range n.InShape {
		if err := e.dims(d); err != nil {
			return nil, fmt.Errorf("model: encode input shape: %w", err)
		}
	}
	if s := n.Standardizer; s != nil {
		e.u8(stdPresent)
		e.floats(s.Mean)
		e.floats(s.Std)
	} else {
		e.u8(stdAbsent)
	}
	e.u32(uint32(len(n.Layers)))
	for i, l := range n.Layers {
		if err := e.layer(l); err != nil {
			return nil, fmt.Errorf("model: encode layer %d (%s): %w", i, l.Kind(), err)
		}
	}
	binary.LittleEndian.PutUint64(e.buf[12:20], uint64(len(e.buf)-headerSize))
	e.u32(crc32.ChecksumIEEE(e.buf))
	return e.buf, nil
}

type encoder struct{ buf []byte }

func (e *encoder) u8(v uint8)   { e.buf = append(e.buf, v) }
func (e *encoder) u32(v uint32) { e.buf = binary.LittleEndian.AppendUint32(e.buf, v) }
func (e *encoder) u64(v uint64) { e.buf = binary.LittleEndian.AppendUint64(e.buf, v) }

func (e *encoder) str(s string) error {
	if len(s) > maxString {
		return fmt.Errorf("string of %d bytes is longer than %d", len(s), maxString)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("string %q is not UTF-8", s)
	}
	e.u32(uint32(len(s)))
	e.buf = append(e.buf, s...)
	return nil
}

func (e *encoder) dims(vs ...int) error {
	for _, v := range vs {
		if v < 0 || v > MaxWidth {
			return fmt.Errorf("size %d out of range [0, %d]", v, MaxWidth)
		}
		e.u32(uint32(v))
	}
	return nil
}

func (e *encoder) floats(v []float64) {
	for _, f := range v {
		e.u64(math.Float64bits(f))
	}
}

func (e *encoder) matrix(w *mat.Dense) {
	r, _ := w.Dims()
	for i := 0; i < r; i++ {
		e.floats(w.RawRowView(i))
	}
}

func (e *encoder) mask(m []bool) {
	if m == nil {
		e.u8(maskAbsent)
		return
	}
	e.u8(maskPresent)
}

func (e *encoder) bitmap(m []bool) {
	if m == nil {
		return
	}
	bits := make([]byte, (len(m)+7)/8)
	for i, free := range m {
		if free {
			bits[i/8] |= 1 << (i % 8)
		}
	}
	e.buf = append(e.buf, bits...)
}

func (e *encoder) layer(l Layer) error {
	switch l := l.(type) {
	case *Linear:
		o, i := l.W.Dims()
		e.u8(kindLinear)
		if err := e.dims(o, i); err != nil {
			return err
		}
		e.mask(l.Mask)
		e.matrix(l.W)
		e.floats(l.B)
		e.bitmap(l.Mask)
		return e.weightQuant(l.Quant)
	case *Conv2d:
		e.u8(kindConv2d)
		if err := e.dims(l.OutC, l.InC, l.KH, l.KW, l.Stride, l.Pad, l.InH, l.InW, l.Dil(), l.NumGroups()); err != nil {
			return err
		}
		e.mask(l.Mask)
		e.matrix(l.W)
		e.floats(l.B)
		e.bitmap(l.Mask)
		return e.weightQuant(l.Quant)
	case *AvgPool2d:
		e.u8(kindAvgPool)
		return e.dims(l.K, l.Stride, l.C, l.InH, l.InW)
	case *MaxPool2d:
		e.u8(kindMaxPool)
		return e.dims(l.K, l.Stride, l.C, l.InH, l.InW)
	case Activation:
		return e.activation(l)
	case *Activation:
		return e.activation(*l)
	case *Quant:
		e.u8(kindQuant)
		if err := e.bits(l.Bits); err != nil {
			return err
		}
		e.u8(flags(l.PowerOfTwo, false))
		e.floats([]float64{l.Lo, l.Hi})
	case ReLU, *ReLU:
		e.u8(kindReLU)
	case Flatten, *Flatten:
		e.u8(kindFlatten)
	default:
		return fmt.Errorf("unknown layer type %T", l)
	}
	return nil
}

// weightQuant writes the weight quantizer of a linear or conv2d record.
func (e *encoder) weightQuant(wq *circuit.WeightQuant) error {
	if wq == nil {
		e.u8(wqAbsent)
		return nil
	}
	e.u8(wqPresent)
	if err := e.bits(wq.Bits); err != nil {
		return fmt.Errorf("weight quantizer: %w", err)
	}
	if wq.BiasLimit < 0 {
		return fmt.Errorf("weight quantizer bias limit %d is negative", wq.BiasLimit)
	}
	e.u8(flags(wq.PowerOfTwo, wq.IntBias))
	e.u64(uint64(wq.BiasLimit))
	return nil
}

// bits writes a quantizer's bit width as a uint8.
func (e *encoder) bits(b int) error {
	if b < circuit.MinBits || b > circuit.MaxBits {
		return fmt.Errorf("quantizer bits %d out of range [%d, %d]", b, circuit.MinBits, circuit.MaxBits)
	}
	e.u8(uint8(b))
	return nil
}

// flags returns the flags byte of a quantizer: bit 0 power_of_two, bit 1 int_bias.
func flags(powerOfTwo, intBias bool) uint8 {
	var f uint8
	if powerOfTwo {
		f |= flagPowerOfTwo
	}
	if intBias {
		f |= flagIntBias
	}
	return f
}

func (e *encoder) activation(a Activation) error {
	code := slices.Index(activationCodes, a.Func)
	if code < 0 {
		return fmt.Errorf("unknown activation function %q", a.Func)
	}
	e.u8(kindActivation)
	e.u8(uint8(code + 1))
	e.floats([]float64{a.Alpha})
	return nil
}

// UnmarshalBinary decodes a network from the model file format, replacing n's contents.
// Errors are [*FormatError]s naming the byte offset and what is wrong; they wrap
// [ErrFormat] (corrupt, truncated, not a model file, inconsistent layers) or [ErrVersion].
func (n *Network) UnmarshalBinary(data []byte) error {
	net, err := decode(data, "")
	if err != nil {
		return err
	}
	*n = *net
	return nil
}

// decode parses a model file; path only names the file in errors.
func decode(data []byte, path string) (*Network, error) {
	d := &decoder{data: data, path: path}
	if len(data) < headerSize {
		if len(data) >= len(Magic) && string(data[:len(Magic)]) != Magic {
			return nil, d.fail(0, "not an fhetune model file (magic %q, want %q)", data[:len(Magic)], Magic)
		}
		return nil, d.fail(int64(len(data)), "truncated: %d bytes, a model file has at least %d", len(data), headerSize+trailerSize)
	}
	if string(data[:len(Magic)]) != Magic {
		return nil, d.fail(0, "not an fhetune model file (magic %q, want %q)", data[:len(Magic)], Magic)
	}
	v := binary.LittleEndian.Uint32(data[8:12])
	if v < minFormatVersion || v > FormatVersion {
		return nil, &FormatError{Path: path, Offset: 8, Err: ErrVersion,
			Why: fmt.Sprintf("format version %d is not supported (this build reads versions %d to %d)", v, minFormatVersion, FormatVersion)}
	}
	d.version = int(v)
	bodyLen := binary.LittleEndian.Uint64(data[12:20])
	have := uint64(len(data) - headerSize)
	switch {
	case have < trailerSize || bodyLen > have-trailerSize:
		return nil, d.fail(int64(len(data)), "truncated: the header announces %d body bytes + %d checksum bytes, the file has %d after the header", bodyLen, trailerSize, have)
	case bodyLen < have-trailerSize:
		return nil, d.fail(int64(headerSize+bodyLen+trailerSize), "%d unexpected bytes after the checksum", have-trailerSize-bodyLen)
	}
	end := headerSize + int(bodyLen)
	want := binary.LittleEndian.Uint32(data[end:])
	if got := crc32.ChecksumIEEE(data[:end]); got != want {
		return nil, d.fail(int64(end), "checksum mismatch (stored %08x, computed %08x): the file is corrupt", want, got)
	}
	d.off, d.end = headerSize, end
	net, err := d.network()
	if err != nil {
		return nil, err
	}
	if d.off != d.end {
		return nil, d.fail(int64(d.off), "%d unread bytes at the end of the body", d.end-d.off)
	}
	if err := net.Validate(); err != nil {
		return nil, &FormatError{Path: path, Offset: int64(d.end), Err: ErrFormat,
			Why: fmt.Sprintf("the layers do not fit together: %v", err)}
	}
	return net, nil
}

// decoder reads the body; every read checks the remaining length first.
type decoder struct {
	data     []byte
	path     string
	version  int
	off, end int
}

func (d *decoder) fail(off int64, format string, args ...any) error {
	return &FormatError{Path: d.path, Offset: off, Err: ErrFormat, Why: fmt.Sprintf(format, args...)}
}

func (d *decoder) need(n uint64, what string) error {
	if n > uint64(d.end-d.off) {
		return d.fail(int64(d.off), "%s needs %d bytes, only %d left in the body", what, n, d.end-d.off)
	}
	return nil
}

func (d *decoder) u8(what string) (uint8, error) {
	if err := d.need(1, what); err != nil {
		return 0, err
	}
	v := d.data[d.off]
	d.off++
	return v, nil
}

func (d *decoder) u32(what string) (uint32, error) {
	if err := d.need(4, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(d.data[d.off:])
	d.off += 4
	return v, nil
}

// size reads a uint32 that must lie in [lo, MaxWidth].
func (d *decoder) size(what string, lo int) (int, error) {
	at := d.off
	v, err := d.u32(what)
	if err != nil {
		return 0, err
	}
	if int64(v) < int64(lo) || v > MaxWidth {
		return 0, d.fail(int64(at), "%s %d out of range [%d, %d]", what, v, lo, MaxWidth)
	}
	return int(v), nil
}

func (d *decoder) str(what string) (string, error) {
	at := d.off
	n, err := d.u32(what + " length")
	if err != nil {
		return "", err
	}
	if n > maxString {
		return "", d.fail(int64(at), "%s length %d exceeds %d", what, n, maxString)
	}
	if err := d.need(uint64(n), what); err != nil {
		return "", err
	}
	s := string(d.data[d.off : d.off+int(n)])
	if !utf8.ValidString(s) {
		return "", d.fail(int64(d.off), "%s is not valid UTF-8", what)
	}
	d.off += int(n)
	return s, nil
}

// floats reads n float64s, refusing NaN and Inf.
func (d *decoder) floats(n uint64, what string) ([]float64, error) {
	if err := d.need(8*n, what); err != nil {
		return nil, err
	}
	out := make([]float64, n)
	for i := range out {
		v := math.Float64frombits(binary.LittleEndian.Uint64(d.data[d.off:]))
		if !finite(v) {
			return nil, d.fail(int64(d.off), "%s entry %d is %v", what, i, v)
		}
		out[i] = v
		d.off += 8
	}
	return out, nil
}

func (d *decoder) network() (*Network, error) {
	net := &Network{}
	var err error
	if net.Spec, err = d.str("spec"); err != nil {
		return nil, err
	}
	if net.Dataset, err = d.str("data set name"); err != nil {
		return nil, err
	}
	at := d.off
	m, err := d.u32("meta count")
	if err != nil {
		return nil, err
	}
	if m > maxMeta {
		return nil, d.fail(int64(at), "meta count %d exceeds %d", m, maxMeta)
	}
	prev := ""
	for i := uint32(0); i < m; i++ {
		at := d.off
		k, err := d.str("meta key")
		if err != nil {
			return nil, err
		}
		if i > 0 && k <= prev {
			return nil, d.fail(int64(at), "meta key %q is not after %q (keys must be ascending and distinct)", k, prev)
		}
		v, err := d.str("meta value")
		if err != nil {
			return nil, err
		}
		if net.Meta == nil {
			net.Meta = make(map[string]string, m)
		}
		net.Meta[k], prev = v, k
	}
	if net.Classes, err = d.size("classes", 2); err != nil {
		return nil, err
	}
	at = d.off
	rank, err := d.u32("input rank")
	if err != nil {
		return nil, err
	}
	if rank < 1 || rank > maxRank {
		return nil, d.fail(int64(at), "input rank %d out of range [1, %d]", rank, maxRank)
	}
	net.InShape = make([]int, rank)
	for i := range net.InShape {
		if net.InShape[i], err = d.size("input dimension", 1); err != nil {
			return nil, err
		}
	}
	at = d.off
	flag, err := d.u8("standardizer flag")
	if err != nil {
		return nil, err
	}
	switch flag {
	case stdAbsent:
	case stdPresent:
		f := uint64(net.InSize())
		s := &Standardizer{}
		if s.Mean, err = d.floats(f, "standardizer means"); err != nil {
			return nil, err
		}
		if s.Std, err = d.floats(f, "standardizer stds"); err != nil {
			return nil, err
		}
		net.Standardizer = s
	default:
		return nil, d.fail(int64(at), "standardizer flag %d (want 0 or 1)", flag)
	}
	at = d.off
	nl, err := d.u32("layer count")
	if err != nil {
		return nil, err
	}
	if nl < 1 || nl > maxLayers {
		return nil, d.fail(int64(at), "layer count %d out of range [1, %d]", nl, maxLayers)
	}
	for i := 0; i < int(nl); i++ {
		l, err := d.layer(i)
		if err != nil {
			return nil, err
		}
		net.Layers = append(net.Layers, l)
	}
	return net, nil
}

func (d *decoder) layer(i int) (Layer, error) {
	at := d.off
	kind, err := d.u8(fmt.Sprintf("layer %d kind", i))
	if err != nil {
		return nil, err
	}
	if last := lastKind(d.version); kind < 1 || int(kind) > last {
		var names []string
		for k, n := range kindNames[:last] {
			names = append(names, fmt.Sprintf("%d %s", k+1, n))
		}
		if d.version == FormatVersion {
			return nil, d.fail(int64(at), "layer %d has unknown kind %d (want %s)", i, kind, strings.Join(names, ", "))
		}
		return nil, d.fail(int64(at), "layer %d has unknown kind %d (a version-%d file has %s)", i, kind, d.version, strings.Join(names, ", "))
	}
	name := func(field string) string { return fmt.Sprintf("layer %d %s", i, field) }
	sizes := func(lo []int, fields ...string) ([]int, error) {
		out := make([]int, len(fields))
		for j, f := range fields {
			v, err := d.size(name(f), lo[j])
			if err != nil {
				return nil, err
			}
			out[j] = v
		}
		return out, nil
	}
	switch kind {
	case kindLinear:
		s, err := sizes([]int{1, 1}, "outputs", "inputs")
		if err != nil {
			return nil, err
		}
		w, b, mask, err := d.params(i, s[0], s[1])
		if err != nil {
			return nil, err
		}
		wq, err := d.weightQuant(i)
		if err != nil {
			return nil, err
		}
		return &Linear{W: w, B: b, Mask: mask, Quant: wq}, nil
	case kindConv2d:
		lo := []int{1, 1, 1, 1, 1, 0, 1, 1}
		fields := []string{"output channels", "input channels", "kernel height", "kernel width", "stride", "padding",
			"input height", "input width"}
		if d.version >= 2 {
			lo, fields = append(lo, 1, 1), append(fields, "dilation", "groups")
		}
		s, err := sizes(lo, fields...)
		if err != nil {
			return nil, err
		}
		dil, groups := 1, 1
		if d.version >= 2 {
			dil, groups = s[8], s[9]
			if s[1]%groups != 0 {
				return nil, d.fail(int64(d.off-4), "layer %d: %d groups do not divide the %d input channels", i, groups, s[1])
			}
		}
		ic := s[1] / groups
		if uint64(ic)*uint64(s[2])*uint64(s[3]) > MaxWidth*MaxWidth {
			return nil, d.fail(int64(at), "layer %d: kernel of %d×%d×%d is too large", i, ic, s[2], s[3])
		}
		w, b, mask, err := d.params(i, s[0], ic*s[2]*s[3])
		if err != nil {
			return nil, err
		}
		wq, err := d.weightQuant(i)
		if err != nil {
			return nil, err
		}
		return &Conv2d{OutC: s[0], InC: s[1], KH: s[2], KW: s[3], Stride: s[4], Pad: s[5], InH: s[6], InW: s[7],
			Dilation: dil, Groups: groups, W: w, B: b, Mask: mask, Quant: wq}, nil
	case kindAvgPool:
		s, err := sizes([]int{1, 1, 1, 1, 1}, "window", "stride", "channels", "input height", "input width")
		if err != nil {
			return nil, err
		}
		return &AvgPool2d{K: s[0], Stride: s[1], C: s[2], InH: s[3], InW: s[4]}, nil
	case kindReLU:
		return ReLU{}, nil
	case kindFlatten:
		return Flatten{}, nil
	case kindActivation:
		fat := d.off
		code, err := d.u8(name("activation function"))
		if err != nil {
			return nil, err
		}
		if code < 1 || int(code) > len(activationCodes) {
			return nil, d.fail(int64(fat), "layer %d has unknown activation function %d (want 1 leaky_relu, 2 sigmoid, 3 tanh, 4 gelu)", i, code)
		}
		alpha, err := d.floats(1, name("alpha"))
		if err != nil {
			return nil, err
		}
		return Activation{Func: activationCodes[code-1], Alpha: alpha[0]}, nil
	case kindMaxPool:
		s, err := sizes([]int{1, 1, 1, 1, 1}, "window", "stride", "channels", "input height", "input width")
		if err != nil {
			return nil, err
		}
		return &MaxPool2d{K: s[0], Stride: s[1], C: s[2], InH: s[3], InW: s[4]}, nil
	}
	// kindQuant
	bits, err := d.bits(name("quant bits"))
	if err != nil {
		return nil, err
	}
	f, err := d.flags(name("quant flags"), flagPowerOfTwo, "bit 0 power_of_two")
	if err != nil {
		return nil, err
	}
	lat := d.off
	lo, err := d.scalar(name("quant lo"))
	if err != nil {
		return nil, err
	}
	hi, err := d.scalar(name("quant hi"))
	if err != nil {
		return nil, err
	}
	if lo > hi {
		return nil, d.fail(int64(lat), "layer %d quant range [%v, %v] is not ordered (want lo ≤ hi)", i, lo, hi)
	}
	return &Quant{Bits: bits, PowerOfTwo: f&flagPowerOfTwo != 0, Lo: lo, Hi: hi}, nil
}

// weightQuant reads the weight quantizer at the end of a linear or conv2d record;
// files before version 3 have none.
func (d *decoder) weightQuant(i int) (*circuit.WeightQuant, error) {
	if d.version < 3 {
		return nil, nil
	}
	at := d.off
	flag, err := d.u8(fmt.Sprintf("layer %d weight quantizer flag", i))
	if err != nil {
		return nil, err
	}
	switch flag {
	case wqAbsent:
		return nil, nil
	case wqPresent:
	default:
		return nil, d.fail(int64(at), "layer %d weight quantizer flag %d (want 0 or 1)", i, flag)
	}
	bits, err := d.bits(fmt.Sprintf("layer %d weight quantizer bits", i))
	if err != nil {
		return nil, err
	}
	f, err := d.flags(fmt.Sprintf("layer %d weight quantizer flags", i), flagPowerOfTwo|flagIntBias, "bit 0 power_of_two, bit 1 int_bias")
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("layer %d weight quantizer bias_limit", i)
	if err := d.need(8, what); err != nil {
		return nil, err
	}
	limit := binary.LittleEndian.Uint64(d.data[d.off:])
	if limit > math.MaxInt64 {
		return nil, d.fail(int64(d.off), "%s %d exceeds %d", what, limit, int64(math.MaxInt64))
	}
	d.off += 8
	return &circuit.WeightQuant{Bits: bits, PowerOfTwo: f&flagPowerOfTwo != 0, IntBias: f&flagIntBias != 0,
		BiasLimit: int64(limit)}, nil
}

// bits reads a quantizer's uint8 bit width, which must lie in [circuit.MinBits,
// circuit.MaxBits].
func (d *decoder) bits(what string) (int, error) {
	at := d.off
	v, err := d.u8(what)
	if err != nil {
		return 0, err
	}
	if int(v) < circuit.MinBits || int(v) > circuit.MaxBits {
		return 0, d.fail(int64(at), "%s %d out of range [%d, %d]", what, v, circuit.MinBits, circuit.MaxBits)
	}
	return int(v), nil
}

// flags reads a uint8 of flag bits, refusing any bit outside known (described by
// meaning, such as "bit 0 power_of_two").
func (d *decoder) flags(what string, known uint8, meaning string) (uint8, error) {
	at := d.off
	v, err := d.u8(what)
	if err != nil {
		return 0, err
	}
	if v&^known != 0 {
		return 0, d.fail(int64(at), "%s 0x%02x has unknown bits 0x%02x set (want %s, other bits zero)", what, v, v&^known, meaning)
	}
	return v, nil
}

// scalar reads one float64, refusing NaN and Inf.
func (d *decoder) scalar(what string) (float64, error) {
	if err := d.need(8, what); err != nil {
		return 0, err
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.data[d.off:]))
	if !finite(v) {
		return 0, d.fail(int64(d.off), "%s is %v (want a finite number)", what, v)
	}
	d.off += 8
	return v, nil
}

// params reads a mask flag, an r×c weight matrix, r biases and the optional mask bitmap.
func (d *decoder) params(i, r, c int) (*mat.Dense, []float64, []bool, error) {
	at := d.off
	flag, err := d.u8(fmt.Sprintf("layer %d mask flag", i))
	if err != nil {
		return nil, nil, nil, err
	}
	if flag != maskAbsent && flag != maskPresent {
		return nil, nil, nil, d.fail(int64(at), "layer %d mask flag %d (want 0 or 1)", i, flag)
	}
	n := uint64(r) * uint64(c)
	wd, err := d.floats(n, fmt.Sprintf("layer %d weights (%d×%d)", i, r, c))
	if err != nil {
		return nil, nil, nil, err
	}
	b, err := d.floats(uint64(r), fmt.Sprintf("layer %d biases", i))
	if err != nil {
		return nil, nil, nil, err
	}
	var mask []bool
	if flag == maskPresent {
		nb := (n + 7) / 8
		if err := d.need(nb, fmt.Sprintf("layer %d mask", i)); err != nil {
			return nil, nil, nil, err
		}
		bits := d.data[d.off : d.off+int(nb)]
		if rem := n % 8; rem != 0 && bits[nb-1]>>rem != 0 {
			return nil, nil, nil, d.fail(int64(d.off)+int64(nb)-1, "layer %d mask has bits set past its %d weights", i, n)
		}
		mask = make([]bool, n)
		for k := range mask {
			mask[k] = bits[k/8]&(1<<(k%8)) != 0
			if !mask[k] && wd[k] != 0 {
				return nil, nil, nil, d.fail(int64(d.off)+int64(k/8), "layer %d weight %d is masked but not zero", i, k)
			}
		}
		d.off += int(nb)
	}
	return mat.NewDense(r, c, wd), b, mask, nil
}

// Save writes the network to path in the model file format, atomically: it writes a
// temporary file in the same folder, syncs it and renames it over path, so a failure
// leaves no partial file (and any earlier file at path untouched).
func Save(path string, net *Network) error {
	data, err := net.MarshalBinary()
	if err != nil {
		return fmt.Errorf("model: save %s: %w", path, err)
	}
	if err := atomicfile.Write(path, data); err != nil {
		return fmt.Errorf("model: save %s: %w", path, err)
	}
	return nil
}

// Load reads a network saved by [Save]. A missing file gives an error matching
// fs.ErrNotExist; a corrupt, truncated or foreign file a [*FormatError] that names the
// file and the byte offset.
func Load(path string) (*Network, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("model: load %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("model: load %s: not a regular file", path)
	}
	if st.Size() > maxFileBytes {
		return nil, &FormatError{Path: path, Offset: 0, Err: ErrFormat,
			Why: fmt.Sprintf("file of %d bytes is larger than any model file (%d)", st.Size(), int64(maxFileBytes))}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model: load %s: %w", path, err)
	}
	net, err := decode(data, path)
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, fmt.Errorf("model: load %s: %w", path, err)
	}
	return net, nil
}
