package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
)

// progressPrinter shows a study's progress on stderr: a bar redrawn in place on a
// terminal, one plain line per finished trial otherwise. It is safe for concurrent use.
type progressPrinter struct {
	mu    sync.Mutex // protects the fields below and the writes
	w     io.Writer
	tty   bool
	width int
	drawn bool // a bar is on the current line
	last  tuner.Progress
	seen  bool
	fixed map[string]float64 // knobs the study does not search, left out of trial lines
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	p := &progressPrinter{w: w, width: 100}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			p.width = cols
		}
	}
	return p
}

// update is the tuner.WithProgress callback.
func (p *progressPrinter) update(pr tuner.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last, p.seen = pr, true
	if p.tty {
		p.drawBar(pr)
		return
	}
	if pr.Last == nil {
		if pr.Done > 0 {
			fmt.Fprintf(p.w, "resuming: %d of %d trials done\n", pr.Done, pr.Total)
		}
		return
	}
	fmt.Fprintln(p.w, trialLine(pr.Last, p.fixed)+" | "+statusText(pr))
}

// note prints a message on a line of its own.
func (p *progressPrinter) note(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintln(p.w, msg)
	if p.tty && p.seen {
		p.drawBar(p.last)
	}
}

// finish ends the bar's line.
func (p *progressPrinter) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func (p *progressPrinter) drawBar(pr tuner.Progress) {
	status := statusText(pr)
	barW := p.width - len(status) - 4
	if barW > 40 {
		barW = 40
	}
	line := status
	if barW >= 10 {
		fill := 0
		if pr.Total > 0 {
			fill = barW * pr.Done / pr.Total
		}
		line = "[" + strings.Repeat("=", fill) + strings.Repeat(" ", barW-fill) + "] " + status
	}
	if len(line) >= p.width {
		line = line[:p.width-1]
	}
	fmt.Fprint(p.w, "\r\033[K"+line)
	p.drawn = true
}

// statusText is "23/60 best acc 0.9527 front 9 hv 2.70 ETA 4s", with the failed and
// pruned trials counted after the fraction when there are any.
func statusText(pr tuner.Progress) string {
	s := fmt.Sprintf("%d/%d", pr.Done, pr.Total)
	switch {
	case pr.Failed > 0 && pr.Pruned > 0:
		s += fmt.Sprintf(" (%d failed, %d pruned)", pr.Failed, pr.Pruned)
	case pr.Failed > 0:
		s += fmt.Sprintf(" (%d failed)", pr.Failed)
	case pr.Pruned > 0:
		s += fmt.Sprintf(" (%d pruned)", pr.Pruned)
	}
	if !math.IsNaN(pr.BestAccuracy) {
		s += fmt.Sprintf("  best acc %.4f", pr.BestAccuracy)
	}
	s += fmt.Sprintf("  front %d  hv %.3f", pr.FrontSize, pr.Hypervolume)
	if pr.ETA > 0 {
		s += "  ETA " + shortDuration(pr.ETA)
	} else if pr.Done < pr.Total {
		s += "  ETA -"
	}
	return s
}

// trialLine is "trial 23 COMPLETE: 0.9527 1438 (n_w_bits=6 ...)", leaving out the fixed
// knobs.
func trialLine(t *tuner.TrialReport, fixed map[string]float64) string {
	switch t.State {
	case studies.Fail:
		return fmt.Sprintf("trial %d FAIL: %s", t.Number, t.Err)
	case studies.Pruned:
		return fmt.Sprintf("trial %d PRUNED: %s", t.Number, t.Err)
	}
	parts := make([]string, len(t.Values))
	for i, v := range t.Values {
		parts[i] = formatValue(v)
	}
	knobs := map[string]float64{}
	for k, v := range t.Knobs {
		if _, ok := fixed[k]; !ok && tuner.KnobApplies(k, t.Knobs) {
			knobs[k] = v
		}
	}
	_, roundingFixed := fixed[tuner.KnobRoundingThresholdBits]
	return fmt.Sprintf("trial %d COMPLETE: %s (%s)", t.Number, strings.Join(parts, " "), knobsText(knobs, !roundingFixed))
}

// knobsText formats knob values in the study order: n_w_bits=6 n_a_bits=8 ... (with
// roundingOff, a rounding_threshold_bits that is absent is shown as off).
func knobsText(k map[string]float64, roundingOff bool) string {
	var parts []string
	for _, name := range tuner.KnobNames() {
		v, ok := k[name]
		switch {
		case name == tuner.KnobRoundingThresholdBits && !ok && roundingOff:
			parts = append(parts, name+"=off")
		case ok:
			parts = append(parts, name+"="+knobText(name, v))
		}
	}
	return strings.Join(parts, " ")
}

// paramsKnobText formats a trial's stored knob parameters that apply to it in the study
// order.
func paramsKnobText(ps []studies.Param) string {
	var parts []string
	all := tuner.KnobValues(ps)
	for _, name := range tuner.KnobNames() {
		for _, p := range ps {
			if p.Name == name && tuner.KnobApplies(name, all) {
				parts = append(parts, name+"="+knobText(name, p.Value))
			}
		}
	}
	return strings.Join(parts, " ")
}

// knobText formats one knob value (a categorical knob's by name: rounding_method=exact).
func knobText(name string, v float64) string {
	if label, ok := tuner.KnobLabel(name, v); ok {
		return label
	}
	switch name {
	case tuner.KnobPError, tuner.KnobGlobalPError:
		return fmt.Sprintf("%.3g", v)
	case tuner.KnobPruning, tuner.KnobSparsity:
		return fmt.Sprintf("%.3f", v)
	case tuner.KnobRoundingThresholdBits:
		if v == 0 {
			return "off"
		}
	}
	return formatValue(v)
}

func shortDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return "<1s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()+0.5))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
