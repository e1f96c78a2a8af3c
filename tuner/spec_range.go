package tuner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Range is the search range of one knob in a study spec. It is written in one of these
// forms (YAML; the JSON form stored with a study is the same):
//
//	6                    the knob is fixed at 6 (not searched)
//	[2, 8]               searched between 2 and 8, both included
//	[3, 8, off]          rounding_threshold_bits only: 3..8, or no rounding at all
//	off                  rounding_threshold_bits only: no rounding
//	{low: 0, high: 0.7, step: 0.05, off: false}   the long form, with a grid step
//	{n_bits: 6, method: approximate}   rounding_threshold_bits only: Concrete ML's dict
//	                     form; n_bits is any of the short forms above ([3, 8], off, ...)
//
// Bit-width knobs are integers; pruning and sparsity are shares in [0, 1) searched
// uniformly (on the step grid when step > 0); p_error and global_p_error are searched
// uniformly in log scale; rounding_threshold_bits lies in 2..8 (Concrete ML's range).
// A method given with rounding_threshold_bits fixes the rounding_method knob (see
// [MethodChoice]); resolving a spec moves it there. A Range is a plain value.
type Range struct {
	// Low and High bound the range, both included; equal bounds fix the knob.
	Low, High float64
	// Step is the grid spacing (0: integers for bit-widths, continuous otherwise).
	Step float64
	// Off adds "no rounding" to a rounding_threshold_bits range.
	Off bool
	// OnlyOff means the knob is off altogether (rounding_threshold_bits: off).
	OnlyOff bool
	// Empty marks a range written as [] (an error once the spec is resolved).
	Empty bool
	// Method is the method of Concrete ML's dict form of rounding_threshold_bits
	// ({n_bits: 6, method: approximate}), as written; "" when none was given. Spec.Resolve
	// checks it, moves it to SpaceSpec.RoundingMethod and clears it.
	Method string

	// Line is the spec file line the range came from (0 when it came from elsewhere, such
	// as a command-line flag).
	Line int
}

// Fixed reports whether the range holds one value and no "off".
func (r Range) Fixed() bool { return !r.OnlyOff && !r.Off && r.Low == r.High }

// String formats the range in its short form, as ParseRange reads it; a range with a
// Method in the dict form {n_bits: …, method: …}.
func (r Range) String() string {
	if r.Method != "" {
		m := r
		m.Method = ""
		return "{n_bits: " + m.String() + ", method: " + r.Method + "}"
	}
	switch {
	case r.Empty:
		return "[]"
	case r.OnlyOff:
		return "off"
	case r.Fixed() && r.Step == 0:
		return fmtNum(r.Low)
	}
	s := "[" + fmtNum(r.Low) + ", " + fmtNum(r.High)
	if r.Off {
		s += ", off"
	}
	s += "]"
	if r.Step > 0 {
		s += " step " + fmtNum(r.Step)
	}
	return s
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// ParseRange reads a range as written on a command line: "6", "2,8", "[2, 8]",
// "3,8,off", "off", the YAML long form "{low: 0, high: 0.7, step: 0.05}", or Concrete
// ML's dict form "{n_bits: 6, method: approximate}".
func ParseRange(text string) (Range, error) {
	t := strings.TrimSpace(text)
	if t == "" {
		return Range{}, fmt.Errorf("empty range")
	}
	if !strings.HasPrefix(t, "[") && !strings.HasPrefix(t, "{") && strings.Contains(t, ",") {
		t = "[" + t + "]"
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(t), &n); err != nil {
		return Range{}, fmt.Errorf("%q: %s", text, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = *n.Content[0]
	}
	r, err := rangeFromNode(&n)
	if err != nil {
		return Range{}, fmt.Errorf("%q: %w", text, err)
	}
	r.Line = 0
	return r, nil
}

// UnmarshalYAML reads any of the forms in the Range doc.
func (r *Range) UnmarshalYAML(n *yaml.Node) error {
	v, err := rangeFromNode(n)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*r = v
	return nil
}

// MarshalYAML writes the short form when it can, else the long form.
func (r Range) MarshalYAML() (any, error) { return r.jsonValue(), nil }

// MarshalJSON writes a number, a list or "off" (see the Range doc).
func (r Range) MarshalJSON() ([]byte, error) { return json.Marshal(r.jsonValue()) }

// UnmarshalJSON reads what MarshalJSON writes (and every YAML form, JSON being YAML).
func (r *Range) UnmarshalJSON(b []byte) error {
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("tuner: range %s: %w", bytes.TrimSpace(b), err)
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = *n.Content[0]
	}
	v, err := rangeFromNode(&n)
	if err != nil {
		return fmt.Errorf("tuner: range %s: %w", bytes.TrimSpace(b), err)
	}
	v.Line = 0
	*r = v
	return nil
}

func (r Range) jsonValue() any {
	if r.Method != "" {
		m := r
		m.Method = ""
		if v, ok := m.jsonValue().(map[string]any); ok { // the long form takes the method
			v["method"] = r.Method
			return v
		}
		return map[string]any{"n_bits": m.jsonValue(), "method": r.Method}
	}
	switch {
	case r.Empty:
		return []any{}
	case r.OnlyOff:
		return "off"
	case r.Step > 0:
		m := map[string]any{"low": r.Low, "high": r.High, "step": r.Step}
		if r.Off {
			m["off"] = true
		}
		return m
	case r.Fixed():
		return r.Low
	case r.Off:
		return []any{r.Low, r.High, "off"}
	}
	return []float64{r.Low, r.High}
}

// rangeFromNode decodes one range node; errors do not carry the line (callers add it).
func rangeFromNode(n *yaml.Node) (Range, error) {
	r := Range{Line: n.Line}
	switch n.Kind {
	case yaml.ScalarNode:
		if isOff(n) {
			r.OnlyOff = true
			return r, nil
		}
		v, err := number(n)
		if err != nil {
			return r, err
		}
		r.Low, r.High = v, v
		return r, nil
	case yaml.SequenceNode:
		items := n.Content
		if len(items) == 0 {
			r.Empty = true
			return r, nil
		}
		if len(items) == 3 && isOff(items[2]) {
			r.Off = true
			items = items[:2]
		}
		if len(items) != 2 {
			return r, fmt.Errorf("want [low, high] (or [low, high, off]), got %d items", len(n.Content))
		}
		var err error
		if r.Low, err = number(items[0]); err != nil {
			return r, err
		}
		if r.High, err = number(items[1]); err != nil {
			return r, err
		}
		return r, nil
	case yaml.MappingNode:
		seen := map[string]bool{}
		var nb Range // the n_bits of Concrete ML's dict form
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			if seen[k] {
				return r, fmt.Errorf("key %q given twice", k)
			}
			seen[k] = true
			var err error
			switch k {
			case "low":
				r.Low, err = number(v)
			case "high":
				r.High, err = number(v)
			case "step":
				r.Step, err = number(v)
			case "off":
				err = v.Decode(&r.Off)
			case "n_bits":
				if v.Kind == yaml.MappingNode {
					err = fmt.Errorf("want a number, [low, high] or off")
				} else {
					nb, err = rangeFromNode(v)
				}
			case "method":
				if v.Kind != yaml.ScalarNode || v.Value == "" {
					err = fmt.Errorf("want exact or approximate")
				}
				r.Method = v.Value
			default:
				return r, fmt.Errorf("unknown key %q in a range (known: low, high, step, off; or n_bits, method)", k)
			}
			if err != nil {
				return r, fmt.Errorf("%s: %w", k, err)
			}
		}
		if seen["n_bits"] {
			if seen["low"] || seen["high"] || seen["step"] || seen["off"] {
				return r, fmt.Errorf("give n_bits (Concrete ML's form) or low and high, not both")
			}
			nb.Method, nb.Line = r.Method, n.Line
			return nb, nil
		}
		if !seen["low"] || !seen["high"] {
			if seen["method"] {
				return r, fmt.Errorf("a method goes with n_bits, as in {n_bits: 6, method: approximate}")
			}
			return r, fmt.Errorf("a range needs both low and high")
		}
		return r, nil
	case yaml.AliasNode:
		return rangeFromNode(n.Alias)
	}
	return r, fmt.Errorf("want a number, [low, high] or off")
}

func isOff(n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	switch strings.ToLower(n.Value) {
	case "off", "none":
		return true
	}
	return false
}

func number(n *yaml.Node) (float64, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, fmt.Errorf("want a number")
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(n.Value), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a finite number", n.Value)
	}
	return v, nil
}

// MethodChoice is the rounding_method of a search space: the rounding methods a study
// tries, "exact" and "approximate" (see [RoundingMethods]). In YAML (and in the JSON a
// study stores) it is one method, which fixes the knob, or a list of them:
//
//	exact                  the default: every trial rounds exactly
//	approximate            every trial rounds approximately
//	[exact, approximate]   searched: each trial takes one of them
//
// A resolved spec holds the methods checked, lower case, without duplicates and in the
// order of RoundingMethods. A MethodChoice is a plain value.
type MethodChoice struct {
	// Methods are the methods, as written until the spec is resolved.
	Methods []string

	// Line is the spec file line it came from (0 when it came from elsewhere).
	Line int
}

// Fixed reports whether the choice holds one method.
func (m MethodChoice) Fixed() bool { return len(m.Methods) == 1 }

// String formats the choice as YAML reads it: "exact" or "[exact, approximate]".
func (m MethodChoice) String() string {
	if m.Fixed() {
		return m.Methods[0]
	}
	return "[" + strings.Join(m.Methods, ", ") + "]"
}

// ParseMethodChoice reads rounding_method as written on a command line: a method
// ("exact", "approximate"), "both", or a comma-separated list such as
// "exact,approximate". The error names the text and what is wrong with it.
func ParseMethodChoice(text string) (MethodChoice, error) {
	t := strings.TrimSpace(text)
	if strings.EqualFold(t, "both") {
		return MethodChoice{Methods: RoundingMethods()}, nil
	}
	t = strings.TrimSuffix(strings.TrimPrefix(t, "["), "]")
	var m MethodChoice
	for _, part := range strings.Split(t, ",") {
		part = strings.TrimSpace(part)
		if !slices.ContainsFunc(RoundingMethods(), func(k string) bool { return strings.EqualFold(part, k) }) {
			return MethodChoice{}, fmt.Errorf("unknown method %q: want exact, approximate or both", part)
		}
		m.Methods = append(m.Methods, part)
	}
	if _, err := resolveMethods(m.Methods); err != nil {
		return MethodChoice{}, err
	}
	return m, nil
}

// UnmarshalYAML reads a method or a list of methods.
func (m *MethodChoice) UnmarshalYAML(n *yaml.Node) error {
	v, err := methodsFromNode(n)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*m = v
	return nil
}

// MarshalYAML writes a method, or a list when there are several.
func (m MethodChoice) MarshalYAML() (any, error) { return m.jsonValue(), nil }

// MarshalJSON writes a method as a string, several as a list.
func (m MethodChoice) MarshalJSON() ([]byte, error) { return json.Marshal(m.jsonValue()) }

// UnmarshalJSON reads what MarshalJSON writes.
func (m *MethodChoice) UnmarshalJSON(b []byte) error {
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("tuner: rounding_method %s: %w", bytes.TrimSpace(b), err)
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = *n.Content[0]
	}
	v, err := methodsFromNode(&n)
	if err != nil {
		return fmt.Errorf("tuner: rounding_method %s: %w", bytes.TrimSpace(b), err)
	}
	v.Line = 0
	*m = v
	return nil
}

func (m MethodChoice) jsonValue() any {
	if m.Fixed() {
		return m.Methods[0]
	}
	return m.Methods
}

// methodsFromNode decodes a method or a list of methods; names are checked later, by
// resolveMethods, which can say which field and line they came from.
func methodsFromNode(n *yaml.Node) (MethodChoice, error) {
	m := MethodChoice{Line: n.Line}
	switch n.Kind {
	case yaml.ScalarNode:
		m.Methods = []string{n.Value}
		return m, nil
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return m, fmt.Errorf("want a list of methods (exact, approximate)")
			}
			m.Methods = append(m.Methods, c.Value)
		}
		return m, nil
	case yaml.AliasNode:
		return methodsFromNode(n.Alias)
	}
	return m, fmt.Errorf("want exact, approximate or [exact, approximate]")
}

// resolveMethods checks the methods and returns them lower case, without duplicates,
// in RoundingMethods order; the error says which value is wrong.
func resolveMethods(methods []string) ([]string, error) {
	if len(methods) == 0 {
		return nil, fmt.Errorf("empty list []: want exact, approximate or [exact, approximate]")
	}
	var out []string
	for _, want := range RoundingMethods() {
		for _, m := range methods {
			if strings.EqualFold(strings.TrimSpace(m), want) && !slices.Contains(out, want) {
				out = append(out, want)
			}
		}
	}
	for _, m := range methods {
		if !slices.ContainsFunc(RoundingMethods(), func(k string) bool { return strings.EqualFold(strings.TrimSpace(m), k) }) {
			return nil, fmt.Errorf("unknown method %q (known: %s)", m, strings.Join(RoundingMethods(), ", "))
		}
	}
	if len(out) < len(methods) {
		return nil, fmt.Errorf("%s: a method is given twice", MethodChoice{Methods: methods})
	}
	return out, nil
}

// Choices is a categorical knob of a search space other than rounding_method: training
// (ptq, qat) and power_of_two_scaling (false, true); see [KnobChoices]. In YAML (and in
// the JSON a study stores) it is one value, which fixes the knob, or a list of values,
// searched. A resolved spec holds the values checked, lower case, without duplicates
// and in KnobChoices order.
type Choices struct {
	// Values are the values, as written until the spec is resolved.
	Values []string
	// Line is the spec file line it came from (0 when it came from elsewhere).
	Line int
}

// Fixed reports whether the choice holds one value.
func (c Choices) Fixed() bool { return len(c.Values) == 1 }

// String formats the choice as YAML reads it: "qat" or "[ptq, qat]".
func (c Choices) String() string {
	if c.Fixed() {
		return c.Values[0]
	}
	return "[" + strings.Join(c.Values, ", ") + "]"
}

// ParseChoices reads a categorical knob as written on a command line: a value or a
// comma-separated list ("ptq,qat").
func ParseChoices(knob, text string) (Choices, error) {
	t := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(text), "["), "]")
	var c Choices
	for _, part := range strings.Split(t, ",") {
		c.Values = append(c.Values, strings.TrimSpace(part))
	}
	if _, err := resolveChoices(knob, c.Values); err != nil {
		return Choices{}, err
	}
	return c, nil
}

// UnmarshalYAML reads a value or a list of values.
func (c *Choices) UnmarshalYAML(n *yaml.Node) error {
	m, err := methodsFromNode(n)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a value or a list of values", n.Line)}}
	}
	*c = Choices{Values: m.Methods, Line: m.Line}
	return nil
}

// MarshalYAML writes a value, or a list when there are several.
func (c Choices) MarshalYAML() (any, error) { return c.jsonValue(), nil }

// MarshalJSON writes a value as a string, several as a list.
func (c Choices) MarshalJSON() ([]byte, error) { return json.Marshal(c.jsonValue()) }

// UnmarshalJSON reads what MarshalJSON writes.
func (c *Choices) UnmarshalJSON(b []byte) error {
	var m MethodChoice
	if err := m.UnmarshalJSON(b); err != nil {
		return err
	}
	*c = Choices{Values: m.Methods}
	return nil
}

func (c Choices) jsonValue() any {
	if c.Fixed() {
		return c.Values[0]
	}
	return c.Values
}

// resolveChoices checks the values of a categorical knob and returns them lower case,
// without duplicates, in KnobChoices order.
func resolveChoices(knob string, values []string) ([]string, error) {
	known := KnobChoices(knob)
	if len(values) == 0 {
		return nil, fmt.Errorf("empty list []: want one of %s", strings.Join(known, ", "))
	}
	var out []string
	for _, v := range values {
		i := slices.IndexFunc(known, func(k string) bool { return strings.EqualFold(strings.TrimSpace(v), k) })
		if i < 0 {
			return nil, fmt.Errorf("unknown %s %q (known: %s)", knob, v, strings.Join(known, ", "))
		}
		if slices.Contains(out, known[i]) {
			return nil, fmt.Errorf("%s: a value is given twice", Choices{Values: values})
		}
		out = append(out, known[i])
	}
	slices.SortFunc(out, func(a, b string) int { return slices.Index(known, a) - slices.Index(known, b) })
	return out, nil
}
