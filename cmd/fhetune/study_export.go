package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/fhetune/fhetune/atomicfile"
	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
)

// exportTrial is one trial of `study export --format json`.
type exportTrial struct {
	Number    int                `json:"number"`
	State     studies.State      `json:"state"`
	Values    map[string]float64 `json:"values,omitempty"`
	Params    map[string]any     `json:"params"`
	Attrs     json.RawMessage    `json:"attrs,omitempty"`
	Error     string             `json:"error,omitempty"`
	Worker    string             `json:"worker,omitempty"`
	RetryOf   int                `json:"retry_of"`
	Start     *time.Time         `json:"start,omitempty"`
	Finish    *time.Time         `json:"finish,omitempty"`
	DurationS *float64           `json:"duration_s,omitempty"`
}

// exportDoc is what `study export --format json` writes.
type exportDoc struct {
	Study      string              `json:"study"`
	Objectives []studies.Objective `json:"objectives"`
	Spec       json.RawMessage     `json:"spec,omitempty"`
	UserAttrs  map[string]string   `json:"user_attrs"`
	Trials     []exportTrial       `json:"trials"`
}

func newStudyExportCmd(a *app) *cobra.Command {
	var format, out string
	c := &cobra.Command{
		Use:   "export NAME --format csv|json [--out FILE]",
		Short: "Write every trial with its knobs, values and attributes as CSV or JSON",
		Long: `export writes every trial of a study, in any state, by number: its state, objective
values, knobs (rounding_threshold_bits "off" when there is no rounding, rounding_method
"exact" or "approximate"), error, worker,
times and every attribute the evaluation stored (accuracies, PBS count, key sizes,
per-layer crypto parameters and timings). CSV has one row per trial and one column per
value, knob and attribute, with nested attributes (layers, constraints) as JSON text;
JSON is one document with the study's objectives, spec and attributes. The file given
with --out is written atomically; without it the export goes to stdout.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "csv" && format != "json" {
				return badInput("--format %q: want csv or json", format)
			}
			if out != "" {
				if err := checkExportOut(out); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			store, err := a.openStore(ctx, true)
			if err != nil {
				return err
			}
			defer store.Close()
			st, err := store.Study(ctx, args[0])
			if err != nil {
				return storeError(err)
			}
			trials, err := store.Trials(ctx, st.ID, studies.TrialFilter{})
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if format == "json" {
				err = writeJSON(&buf, exportJSON(st, trials))
			} else {
				err = writeExportCSV(&buf, st, trials)
			}
			if err != nil {
				return err
			}
			if out == "" {
				_, err = a.stdout.Write(buf.Bytes())
				return err
			}
			if err := writeFileAtomic(out, buf.Bytes()); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "wrote %d trials to %s\n", len(trials), out)
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "", "csv or json (required)")
	c.Flags().StringVar(&out, "out", "", "file to write (default: stdout)")
	return c
}

func checkExportOut(path string) error {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return badInput("--out %s is a directory", path)
	}
	if info, err := os.Stat(filepath.Dir(path)); err != nil || !info.IsDir() {
		return badInput("--out %s: folder %s does not exist", path, filepath.Dir(path))
	}
	return nil
}

// writeFileAtomic writes data to path atomically (package atomicfile).
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.Write(path, data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func exportJSON(st studies.Study, trials []studies.Trial) exportDoc {
	d := exportDoc{Study: st.Name, Objectives: st.Objectives, Spec: st.Spec, UserAttrs: st.UserAttrs, Trials: []exportTrial{}}
	if d.UserAttrs == nil {
		d.UserAttrs = map[string]string{}
	}
	for _, t := range trials {
		e := exportTrial{Number: t.Number, State: t.State, Params: map[string]any{}, Attrs: t.Attrs, Error: t.Error,
			Worker: t.Worker, RetryOf: t.RetryOf}
		if t.Values != nil {
			e.Values = map[string]float64{}
			for i, o := range st.Objectives {
				if i < len(t.Values) {
					e.Values[o.Name] = t.Values[i]
				}
			}
		}
		for _, p := range t.Params {
			e.Params[p.Name] = paramValue(p)
		}
		if !t.Start.IsZero() {
			s := t.Start
			e.Start = &s
		}
		if !t.Finish.IsZero() {
			f := t.Finish
			e.Finish = &f
			if !t.Start.IsZero() {
				d := t.Finish.Sub(t.Start).Seconds()
				e.DurationS = &d
			}
		}
		d.Trials = append(d.Trials, e)
	}
	return d
}

// paramValue is a knob's exported value: "off" for rounding_threshold_bits 0, a
// categorical knob's name (rounding_method "exact" or "approximate"), else the number.
func paramValue(p studies.Param) any {
	if p.Name == tuner.KnobRoundingThresholdBits && p.Value == 0 {
		return "off"
	}
	if label, ok := tuner.KnobLabel(p.Name, p.Value); ok {
		return label
	}
	return p.Value
}

// writeExportCSV writes one row per trial: number, state, objective values, knobs,
// error, worker, retry_of, times, then each attribute in the order trials first have it
// (nested ones as JSON text; the knobs echo and values already in columns left out).
func writeExportCSV(w io.Writer, st studies.Study, trials []studies.Trial) error {
	var params []string
	for _, name := range tuner.KnobNames() {
		for _, t := range trials {
			if _, ok := t.Param(name); ok {
				params = append(params, name)
				break
			}
		}
	}
	for _, t := range trials { // parameters of other tools, by first appearance
		for _, p := range t.Params {
			if !slices.Contains(params, p.Name) {
				params = append(params, p.Name)
			}
		}
	}
	skip := map[string]bool{"knobs": true}
	for _, o := range st.Objectives {
		skip[o.Name] = true
	}
	var attrKeys []string
	attrs := make([]map[string]json.RawMessage, len(trials))
	for i, t := range trials {
		keys, m := orderedObject(t.Attrs)
		attrs[i] = m
		for _, k := range keys {
			if !skip[k] && !slices.Contains(attrKeys, k) {
				attrKeys = append(attrKeys, k)
			}
		}
	}
	cw := csv.NewWriter(w)
	head := []string{"number", "state"}
	for _, o := range st.Objectives {
		head = append(head, o.Name)
	}
	head = append(head, params...)
	head = append(head, "error", "worker", "retry_of", "start", "finish", "duration_s")
	head = append(head, attrKeys...)
	if err := cw.Write(head); err != nil {
		return err
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for i, t := range trials {
		row := []string{strconv.Itoa(t.Number), t.State.String()}
		for j := range st.Objectives {
			if j < len(t.Values) {
				row = append(row, num(t.Values[j]))
			} else {
				row = append(row, "")
			}
		}
		for _, name := range params {
			if p, ok := t.Param(name); ok {
				if v, isStr := paramValue(p).(string); isStr {
					row = append(row, v)
				} else {
					row = append(row, num(p.Value))
				}
			} else {
				row = append(row, "")
			}
		}
		start, finish, dur := "", "", ""
		if !t.Start.IsZero() {
			start = t.Start.UTC().Format(time.RFC3339Nano)
		}
		if !t.Finish.IsZero() {
			finish = t.Finish.UTC().Format(time.RFC3339Nano)
			if !t.Start.IsZero() {
				dur = num(t.Finish.Sub(t.Start).Seconds())
			}
		}
		row = append(row, t.Error, t.Worker, strconv.Itoa(t.RetryOf), start, finish, dur)
		for _, k := range attrKeys {
			row = append(row, csvCell(attrs[i][k]))
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// orderedObject decodes a JSON object keeping its key order; anything else gives none.
func orderedObject(raw json.RawMessage) ([]string, map[string]json.RawMessage) {
	if len(raw) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil
	}
	var keys []string
	m := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil
		}
		if _, dup := m[k]; !dup {
			keys = append(keys, k)
		}
		m[k] = v
	}
	return keys, m
}

// csvCell writes a JSON value as a CSV cell: strings unquoted, numbers and booleans as
// they are, null as empty, arrays and objects as compact JSON.
func csvCell(v json.RawMessage) string {
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) == nil {
		return buf.String()
	}
	return string(v)
}
