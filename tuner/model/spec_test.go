package model_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/tuner/model"
)

func TestParseSpec(t *testing.T) {
	cases := []struct {
		name, spec, canonical string
	}{
		{"mlp two layers", "mlp:64,64", "mlp:64,64"},
		{"mlp spaces and case", " MLP: 32 , 16 ", "mlp:32,16"},
		{"mlp linear classifier", "mlp:", "mlp:"},
		{"cnn defaults dropped", "cnn:c8k3s1p1,pool2s2,c16k3s1p1,pool2,fc64", "cnn:c8k3p1,pool2,c16k3p1,pool2,fc64"},
		{"cnn strides", "cnn:c4k5s2,pool3s1", "cnn:c4k5s2,pool3s1"},
		{"cnn only fc", "cnn:fc10", "cnn:fc10"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := model.ParseSpec(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.String(); got != tc.canonical {
				t.Errorf("String() = %q, want %q", got, tc.canonical)
			}
			again, err := model.ParseSpec(s.String())
			if err != nil || again.String() != tc.canonical {
				t.Errorf("canonical form does not parse back: %v, %q", err, again.String())
			}
		})
	}
}

func TestParseSpecErrors(t *testing.T) {
	cases := []struct {
		name, spec, want string
	}{
		{"no colon", "mlp64", "no ':' found"},
		{"unknown family", "rnn:3", `unknown family "rnn"`},
		{"zero width", "mlp:64,0", `token 2 "0": width 0 must be in [1, 65536]`},
		{"not a number", "mlp:64,x", `token 2 "x": width x`},
		{"too wide", "mlp:100000", "width 100000 must be in [1, 65536]"},
		{"empty cnn", "cnn:", "cnn needs at least one token"},
		{"bad token", "cnn:c8k3,max2", `token 2 "max2": want c<out>k<k>[s<stride>][p<pad>], pool<k>[s<stride>] or fc<width>`},
		{"missing kernel", "cnn:c8", `token 1 "c8": want`},
		{"pad too big", "cnn:c8k3p3", `token 1 "c8k3p3": padding 3 must be smaller than the kernel 3`},
		{"conv after fc", "cnn:fc32,c8k3", `token 2 "c8k3": conv after an fc token`},
		{"zero stride", "cnn:c8k3s0", `token 1 "c8k3s0": stride 0 must be in [1, 65536]`},
		{"empty token", "cnn:c8k3,,pool2", `token 2 "": want`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := model.ParseSpec(tc.spec)
			if err == nil {
				t.Fatalf("ParseSpec(%q) succeeded", tc.spec)
			}
			if !errors.Is(err, model.ErrSpec) {
				t.Errorf("error %v does not match ErrSpec", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.spec)) {
				t.Errorf("error %q does not name the spec and contain %q", err, tc.want)
			}
		})
	}
}

func kinds(net *model.Network) string {
	var k []string
	for _, l := range net.Layers {
		k = append(k, l.Kind())
	}
	return strings.Join(k, " ")
}

func TestBuild(t *testing.T) {
	cases := []struct {
		name   string
		spec   string
		shape  []int
		kinds  string
		shapes [][]int
		params int
	}{
		{"mlp on images flattens", "mlp:64,32", []int{1, 8, 8}, "flatten linear relu linear relu linear",
			[][]int{{64}, {64}, {64}, {32}, {32}, {10}}, 64*64 + 64 + 64*32 + 32 + 32*10 + 10},
		{"mlp on tabular", "mlp:16", []int{30}, "linear relu linear",
			[][]int{{16}, {16}, {10}}, 30*16 + 16 + 16*10 + 10},
		{"cnn digits", "cnn:c8k3p1,pool2,c16k3p1,pool2,fc64", []int{1, 8, 8},
			"conv2d relu avgpool2d conv2d relu avgpool2d flatten linear relu linear",
			[][]int{{8, 8, 8}, {8, 8, 8}, {8, 4, 4}, {16, 4, 4}, {16, 4, 4}, {16, 2, 2}, {64}, {64}, {64}, {10}},
			8*9 + 8 + 16*8*9 + 16 + 64*64 + 64 + 64*10 + 10},
		{"cnn stride no fc", "cnn:c4k3s2", []int{1, 9, 9}, "conv2d relu flatten linear",
			[][]int{{4, 4, 4}, {4, 4, 4}, {64}, {10}}, 4*9 + 4 + 64*10 + 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			net, err := model.Build(tc.spec, tc.shape, 10, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got := kinds(net); got != tc.kinds {
				t.Errorf("layers %q, want %q", got, tc.kinds)
			}
			shapes, err := net.Shapes()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(shapes, tc.shapes, slices.Equal) {
				t.Errorf("shapes %v, want %v", shapes, tc.shapes)
			}
			if got := net.NumParams(); got != tc.params {
				t.Errorf("NumParams %d, want %d", got, tc.params)
			}
			same, _ := model.Build(tc.spec, tc.shape, 10, 1)
			other, _ := model.Build(tc.spec, tc.shape, 10, 2)
			a, _ := net.MarshalBinary()
			b, _ := same.MarshalBinary()
			c, _ := other.MarshalBinary()
			if string(a) != string(b) {
				t.Error("the same seed gave different weights")
			}
			if string(a) == string(c) {
				t.Error("different seeds gave the same weights")
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	cases := []struct {
		name, spec string
		shape      []int
		classes    int
		want       string
	}{
		{"cnn on tabular", "cnn:c4k3", []int{30}, 2, "a cnn needs image inputs of shape [C H W], the data have shape [30]"},
		{"kernel too big", "cnn:c4k9", []int{1, 8, 8}, 10, `token 1 "c4k9": kernel 9 does not fit the 8x8 input`},
		{"pool too big", "cnn:c4k3,pool7", []int{1, 8, 8}, 10, `token 2 "pool7": window 7 does not fit the 6x6 input`},
		{"one class", "mlp:4", []int{3}, 1, "1 classes: want at least 2"},
		{"empty shape", "mlp:4", nil, 2, "input shape []"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := model.Build(tc.spec, tc.shape, tc.classes, 1)
			if err == nil || !errors.Is(err, model.ErrSpec) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Build error %v, want ErrSpec containing %q", err, tc.want)
			}
		})
	}
}

func ExampleParseSpec() {
	s, err := model.ParseSpec("cnn:c8k3s1p1,pool2,c16k3p1,pool2s2,fc64")
	if err != nil {
		panic(err)
	}
	fmt.Println(s)
	net, err := s.Build([]int{1, 8, 8}, 10, 1)
	if err != nil {
		panic(err)
	}
	shapes, _ := net.Shapes()
	for i, l := range net.Layers {
		fmt.Println(l.Kind(), shapes[i])
	}
	// Output:
	// cnn:c8k3p1,pool2,c16k3p1,pool2,fc64
	// conv2d [8 8 8]
	// relu [8 8 8]
	// avgpool2d [8 4 4]
	// conv2d [16 4 4]
	// relu [16 4 4]
	// avgpool2d [16 2 2]
	// flatten [64]
	// linear [64]
	// relu [64]
	// linear [10]
}
