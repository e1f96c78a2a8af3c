package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/fhe/calibration"
	"github.com/fhetune/fhetune/studies"
)

// calibrateCLI runs fhetune with args and returns its exit code, stdout and stderr.
func calibrateCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCalibrateSavesProfile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "fhetune.db")
	outFile := filepath.Join(dir, "profile.json")
	// Precisions 1 and 2 at two p_error values: a small spread that still fits the model.
	code, out, errs := calibrateCLI(t, "--db", db, "calibrate", "--quick", "--max-precision", "2",
		"--p-errors", "1e-3,1e-2", "--repeats", "2", "--min-round-time", "0", "--out", outFile, "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var res calibrateOutput
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, out)
	}
	held := res.Profile.HeldOutError
	if res.ID != 1 || res.Calibration != "1" || len(res.Table) < 4 || len(res.LOO.Errors) != len(res.Profile.Measurements) ||
		held == nil || len(held.Errors) == 0 || len(res.Table) != len(res.LOO.Errors)+len(held.Errors) {
		t.Fatalf("id %d, calibration %q, %d rows, %d LOO errors, held-out error %+v", res.ID, res.Calibration, len(res.Table), len(res.LOO.Errors), held)
	}
	for i, r := range res.Table {
		if !(r.MeasuredMS > 0) || !(r.PredictedMS > 0) || r.Bootstraps == 0 || r.Rounds != 2 || r.HeldOut != (i >= len(res.LOO.Errors)) {
			t.Errorf("row %+v", r)
		}
	}
	// Keyswitches between the keys of neighbouring sets are measured and priced.
	if b := res.Profile.Between; b == nil || len(b.Measurements) == 0 || !(b.NSPerMAC > 0) {
		t.Errorf("keyswitch between keys: %+v", b)
	}
	if got := res.Profile.Command; got != "fhetune calibrate --json --max-precision 2 --min-round-time 0s --out "+outFile+" --p-errors 1e-3,1e-2 --quick --repeats 2" {
		t.Errorf("recorded command %q", got)
	}
	// Progress went to stderr as plain lines (stderr is not a terminal here).
	if !strings.Contains(errs, "calibrate: 1/") || strings.Contains(errs, "\r") {
		t.Errorf("stderr progress %q", errs)
	}

	// The database holds the profile; --out holds the same payload.
	ctx := context.Background()
	s, err := studies.Open(ctx, db, studies.MustExist())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stored, source, err := calibration.Latest(ctx, s)
	if err != nil || source != "1" {
		t.Fatalf("Latest: source %q, error %v", source, err)
	}
	b, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	written, err := calibration.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	written.ID = stored.ID
	p := res.Table[0].Set.MustCompile()
	if stored.PredictMS(p) != written.PredictMS(p) || stored.PredictMS(p) != res.Table[0].PredictedMS {
		t.Errorf("predictions differ: stored %g, --out %g, table %g", stored.PredictMS(p), written.PredictMS(p), res.Table[0].PredictedMS)
	}

	// params now predicts with this profile.
	code, out, errs = calibrateCLI(t, "--db", db, "params", "--precision", "2", "--log2-norm2", "0", "--p-error", "1e-2", "--json")
	if code != 0 {
		t.Fatalf("params: exit %d, stderr %q", code, errs)
	}
	var pr paramsResult
	if err := json.Unmarshal([]byte(out), &pr); err != nil {
		t.Fatal(err)
	}
	if want := stored.PredictMS(pr.ParamsLiteral.MustCompile()); pr.Calibration != "1" || pr.PredictedMS != want || !(want > 0) {
		t.Errorf("params: calibration %q, predicted_ms %g, want \"1\" and %g", pr.Calibration, pr.PredictedMS, want)
	}
}

func TestParamsDefaultCalibration(t *testing.T) {
	db := filepath.Join(t.TempDir(), "missing.db")
	def, err := calibration.Default()
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := calibrateCLI(t, "--db", db, "params", "--precision", "4", "--log2-norm2", "0", "--p-error", "6.3e-5", "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var pr paramsResult
	if err := json.Unmarshal([]byte(out), &pr); err != nil {
		t.Fatal(err)
	}
	if want := def.PredictMS(pr.ParamsLiteral.MustCompile()); pr.Calibration != "default" || pr.PredictedMS != want {
		t.Errorf("calibration %q, predicted_ms %g, want \"default\" and %g", pr.Calibration, pr.PredictedMS, want)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("params created the database (stat: %v)", err)
	}
	code, out, errs = calibrateCLI(t, "--db", db, "params", "--precision", "4", "--log2-norm2", "0", "--p-error", "6.3e-5")
	if code != 0 || !strings.Contains(out, "ms per keyswitch + bootstrap on one core (calibration default)") {
		t.Errorf("exit %d, stderr %q, stdout:\n%s", code, errs, out)
	}
}

// TestCalibrateCheck times the built-in profile's anchors again (no database: nothing
// is created) and prints their factor.
func TestCalibrateCheck(t *testing.T) {
	db := filepath.Join(t.TempDir(), "fhetune.db")
	code, out, errs := calibrateCLI(t, "--db", db, "calibrate", "--check", "--repeats", "2", "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var res checkOutput
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, out)
	}
	def, err := calibration.Default()
	if err != nil {
		t.Fatal(err)
	}
	if res.Calibration != calibration.SourceDefault || !res.Created.Equal(def.Created) || len(res.Anchors) != 3 || !(res.SpeedFactor > 0) {
		t.Errorf("check %+v", res)
	}
	ratios := make([]float64, len(res.Anchors))
	for i, an := range res.Anchors {
		ratios[i] = an.MS / an.ProfileMS
	}
	if want := calibration.Median(ratios); math.Abs(res.SpeedFactor-want) > 1e-12*want {
		t.Errorf("speed factor %g, want the anchors' median ratio %g", res.SpeedFactor, want)
	}
	// The built-in profile ran every set on its 2 cores at once: so does the check.
	for i, an := range res.Anchors {
		if !(an.AllCoresProfileMS > 0) || !(an.AllCoresMS > 0) {
			t.Fatalf("anchor %d: %+v, want its time with all cores busy now and in the profile", i, an)
		}
		ratios[i] = an.AllCoresMS / an.AllCoresProfileMS
	}
	if want := calibration.Median(ratios); res.Workers != def.Workers() || math.Abs(res.AllCoresSpeedFactor-want) > 1e-12*want {
		t.Errorf("all cores: factor %g on %d workers, want the anchors' median ratio %g on %d", res.AllCoresSpeedFactor, res.Workers, want, def.Workers())
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("--check created the database (stat: %v)", err)
	}
}

func TestCalibrateBadInput(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"empty precision range", []string{"--max-precision", "0"}, "empty precision range 1..0"},
		{"precision above 16", []string{"--max-precision", "17"}, "--max-precision 17 above 16"},
		{"p_error zero", []string{"--p-errors", "1e-3,0"}, "--p-errors value 0 outside (0, 1)"},
		{"p_error not a number", []string{"--p-errors", "often"}, "often"},
		{"no repeats", []string{"--repeats", "0"}, "--repeats 0 outside 1..200"},
		{"negative round time", []string{"--min-round-time", "-1s"}, "--min-round-time -1s outside 0..1h"},
		{"argument", []string{"now"}, "unknown command"},
		{"out folder missing", []string{"--out", "/nonexistent-folder/p.json"}, "--out /nonexistent-folder/p.json: no such folder"},
		{"check with quick", []string{"--check", "--quick"}, "--check measures no new profile; --quick does not go with it"},
		{"check with out", []string{"--check", "--out", "p.json"}, "--out does not go with it"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "fhetune.db")
			args := append([]string{"--db", db, "calibrate"}, c.args...)
			code, out, errs := calibrateCLI(t, args...)
			if code != 2 || out != "" || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", code, out, errs, c.want)
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Errorf("bad input created the database (stat: %v)", err)
			}
		})
	}
}

func TestCalibrateBadDatabase(t *testing.T) {
	// A file that is not SQLite: refused before anything is measured, and left alone.
	db := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(db, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := calibrateCLI(t, "--db", db, "calibrate", "--quick")
	if code != 2 || out != "" || !strings.HasPrefix(errs, "fhetune: calibrate: ") || strings.Contains(errs, "calibrate: 1/") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if b, _ := os.ReadFile(db); string(b) != "not a database" {
		t.Errorf("file changed to %q", b)
	}
}
