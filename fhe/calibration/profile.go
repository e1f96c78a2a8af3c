package calibration

import (
	"bufio"
	"context"
	_ "embed" // the built-in default profile
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fhetune/fhetune/fhe"
	"gonum.org/v1/gonum/mat"
)

// Format is the version of the [Profile] payload written by this package.
const Format = 1

// SourceDefault is the source [Latest] reports for the built-in default profile.
const SourceDefault = "default"

// Machine describes the computer a profile was measured on.
type Machine struct {
	// CPU is the model name from /proc/cpuinfo ("unknown" elsewhere).
	CPU string `json:"cpu"`
	// Cores is the number of cores Go may use (GOMAXPROCS).
	Cores int `json:"cores"`
	// OS and Arch are Go's GOOS and GOARCH.
	OS   string `json:"os"`
	Arch string `json:"arch"`
}

// String formats the machine as stored with a profile, e.g. "AMD EPYC, 2 cores, linux/amd64".
func (m Machine) String() string {
	return fmt.Sprintf("%s, %d cores, %s/%s", m.CPU, m.Cores, m.OS, m.Arch)
}

// DetectMachine describes the running machine.
func DetectMachine() Machine {
	return Machine{CPU: cpuModel(), Cores: runtime.GOMAXPROCS(0), OS: runtime.GOOS, Arch: runtime.GOARCH}
}

// cpuModel reads the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(val)
		}
	}
	return "unknown"
}

// loadAverage returns the one-minute load average from /proc/loadavg, or −1.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// TFHEGoVersion reports the tfhe-go module version linked into the running binary.
func TFHEGoVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, m := range info.Deps {
		if m.Path == "github.com/sp301415/tfhe-go" {
			if m.Replace != nil {
				return m.Replace.Version
			}
			return m.Version
		}
	}
	return "unknown"
}

// ParallelModel predicts the time of one bootstrap while every core runs one, which
// exceeds the single-core time when the cores compete for caches and memory bandwidth:
//
//	parallel ms = Scale · single-core ms + MSPerMB · key megabytes
//
// with Scale ≥ 1, MSPerMB ≥ 0 and the key size from [KeyBytes].
type ParallelModel struct {
	// Workers is the number of cores that ran at once.
	Workers int `json:"workers"`
	// Scale and MSPerMB are the fitted non-negative coefficients.
	Scale   float64 `json:"scale"`
	MSPerMB float64 `json:"ms_per_mb"`
}

// KeyBytes returns the bytes of the evaluation keys one bootstrap streams through:
// the bootstrap key n·(k+1)²·l_br·N float64s and the keyswitching key
// (k·N − n)·l_ks·(n+1) uint64s.
func KeyBytes(p fhe.Params) float64 {
	k1 := float64(p.GLWERank() + 1)
	brk := float64(p.LWEDimension()) * k1 * k1 * float64(p.BRLevel()) * float64(p.PolyDegree())
	ksk := float64(p.GLWEDimension()-p.LWEDimension()) * float64(p.KSLevel()) * float64(p.LWEDimension()+1)
	return 8 * (brk + ksk)
}

// Profile is a calibration: the measurements of one machine and the models fitted to
// them. It is the payload stored in the study database (as JSON) and embedded as the
// built-in default. A Profile is a value; its methods are safe for concurrent use.
type Profile struct {
	// Format is the payload version, [Format].
	Format int `json:"format"`
	// Machine, Go and TFHEGo say where it was measured, Created when, Command how.
	Machine Machine   `json:"machine"`
	Go      string    `json:"go"`
	TFHEGo  string    `json:"tfhe_go"`
	Created time.Time `json:"created"`
	Command string    `json:"command"`
	// Clock names the clock of every time (see [Measurement]).
	Clock string `json:"clock"`
	// LoadAverage holds the one-minute load average when measuring started and ended,
	// which says how busy the machine was.
	LoadAverage []float64 `json:"load_average"`
	// Model predicts one KS+PBS on one core; LOO is its leave-one-out error.
	Model Model `json:"model"`
	LOO   LOO   `json:"loo"`
	// Parallel predicts one bootstrap while all cores run one.
	Parallel ParallelModel `json:"parallel"`
	// DotNSPerCoef is the median time of one coefficient multiply-add of a levelled
	// dot product, in ns.
	DotNSPerCoef float64 `json:"dot_ns_per_coef"`
	// Between prices keyswitches between the keys of two partitions; nil (profiles made
	// before it was measured) prices them with Model's keyswitch terms.
	Between *BetweenModel `json:"keyswitch_between,omitempty"`
	// Measurements holds every set the model was fitted to, in the order of
	// LOO.Errors.
	Measurements []Measurement `json:"measurements"`
	// HeldOut holds the sets measured alongside but left out of the fit (chosen at
	// other p_errors and norms), and HeldOutError the model's error on them, in their
	// order: the error to expect on sets the model never saw.
	HeldOut      []Measurement `json:"held_out,omitempty"`
	HeldOutError *LOO          `json:"held_out_error,omitempty"`
	// Bootstraps counts the bootstraps run and checked; Wrong those that decrypted to
	// a wrong value; ExpectedWrong the sum of their noise-model error probabilities.
	Bootstraps    int     `json:"bootstraps"`
	Wrong         int     `json:"wrong"`
	ExpectedWrong float64 `json:"expected_wrong"`

	// ID is the database id, zero for the built-in default; it is not part of the
	// payload.
	ID int64 `json:"-"`
}

// PredictMS returns the predicted milliseconds of one keyswitch + programmable bootstrap
// of p on one core.
func (pr Profile) PredictMS(p fhe.Params) float64 { return pr.Model.Predict(p) }

// BootstrapMS returns the predicted milliseconds of the bootstrap part alone (blind
// rotation and sample extraction) of p on one core.
func (pr Profile) BootstrapMS(p fhe.Params) float64 { return pr.Model.predictPart(p, PartPBS) }

// KeySwitchBetweenMS returns the predicted milliseconds of one keyswitch from from's big
// key (k·N) to to's small key (n) with level levels, on one core: the measured
// [BetweenModel] when the profile has one, else the fitted keyswitch terms with the
// counts of that keyswitch. Between the keys of two partitions no
// coefficient of the big key is shared with the small one, so all k·N are decomposed
// (tfhe-go's atomic-pattern keyswitch skips the first n; the terms are the same
// multiply-adds and calls).
func (pr Profile) KeySwitchBetweenMS(from, to fhe.Params, level int) float64 {
	if pr.Between != nil && pr.Between.NSPerMAC > 0 {
		return betweenMACs(from, to, level) * pr.Between.NSPerMAC / 1e6
	}
	return pr.Model.keySwitchBetween(from.GLWEDimension(), to.LWEDimension(), level)
}

// ParallelMS returns the predicted milliseconds of one bootstrap of p while all
// [ParallelModel.Workers] cores run one.
func (pr Profile) ParallelMS(p fhe.Params) float64 {
	single := pr.PredictMS(p)
	if pr.Parallel.Workers <= 1 {
		return single
	}
	return pr.Parallel.Scale*single + pr.Parallel.MSPerMB*KeyBytes(p)/1e6
}

// Workers returns the number of cores the parallel model was measured with (at least 1).
func (pr Profile) Workers() int { return max(1, pr.Parallel.Workers) }

// Validate checks a decoded profile; errors wrap [ErrBadProfile].
func (pr Profile) Validate() error {
	if pr.Format != Format {
		return fmt.Errorf("%w: format %d, this build reads %d", ErrBadProfile, pr.Format, Format)
	}
	if err := pr.Model.Validate(); err != nil {
		return err
	}
	pm := pr.Parallel
	if pm.Workers < 1 || !(pm.Scale >= 0) || !(pm.MSPerMB >= 0) || math.IsInf(pm.Scale+pm.MSPerMB, 0) ||
		pm.Scale+pm.MSPerMB == 0 {
		return fmt.Errorf("%w: parallel model %+v", ErrBadProfile, pm)
	}
	if !(pr.DotNSPerCoef >= 0) || math.IsInf(pr.DotNSPerCoef, 0) {
		return fmt.Errorf("%w: dot_ns_per_coef %g", ErrBadProfile, pr.DotNSPerCoef)
	}
	return nil
}

// Decode parses and validates a profile payload.
func Decode(payload []byte) (Profile, error) {
	var pr Profile
	if err := json.Unmarshal(payload, &pr); err != nil {
		return Profile{}, fmt.Errorf("%w: %w", ErrBadProfile, err)
	}
	if err := pr.Validate(); err != nil {
		return Profile{}, err
	}
	return pr, nil
}

// Encode returns the payload of a profile (without its ID).
func (pr Profile) Encode() (json.RawMessage, error) {
	b, err := json.Marshal(pr)
	if err != nil {
		return nil, fmt.Errorf("calibration: encode profile: %w", err)
	}
	return b, nil
}

//go:embed default_profile.json
var defaultProfile []byte

// Default returns the built-in profile, measured by `fhetune calibrate` on the machine
// its Machine field names (its Command and Created fields say how and when).
func Default() (Profile, error) {
	pr, err := Decode(defaultProfile)
	if err != nil {
		return Profile{}, fmt.Errorf("built-in default profile: %w", err)
	}
	return pr, nil
}

// ProfileStore is what [Latest] needs of a profile store (*studies.Store is one; this
// package does not import studies, so the interface speaks in plain types).
type ProfileStore interface {
	// NewestProfile returns the newest stored profile's id and payload, with ok false
	// when the store holds none.
	NewestProfile(ctx context.Context) (id int64, payload []byte, ok bool, err error)
}

// Latest returns the newest profile of the store and its source (its id in decimal), or
// the built-in default and [SourceDefault] when the store holds none or is nil. A stored
// payload that does not decode is an error, not a silent fall-back.
func Latest(ctx context.Context, store ProfileStore) (Profile, string, error) {
	if store != nil {
		id, payload, ok, err := store.NewestProfile(ctx)
		if err != nil {
			return Profile{}, "", fmt.Errorf("latest calibration profile: %w", err)
		}
		if ok {
			pr, err := Decode(payload)
			if err != nil {
				return Profile{}, "", fmt.Errorf("calibration profile %d: %w", id, err)
			}
			pr.ID = id
			return pr, strconv.FormatInt(id, 10), nil
		}
	}
	pr, err := Default()
	if err != nil {
		return Profile{}, "", err
	}
	return pr, SourceDefault, nil
}

// Row is one line of a calibration table.
type Row struct {
	// Set and Label identify the measured set.
	Set   fhe.ParamsLiteral `json:"set"`
	Label string            `json:"label,omitempty"`
	// MeasuredMS and PredictedMS are the single-core KS+PBS times; Error is
	// (predicted − measured) / measured of the full fit, LOOError the same with the set
	// left out of the fit.
	MeasuredMS  float64 `json:"measured_ms"`
	PredictedMS float64 `json:"predicted_ms"`
	Error       float64 `json:"error"`
	LOOError    float64 `json:"loo_error"`
	// ParallelMS is the measured time of one bootstrap with all cores busy: the
	// throughput run's wall time per bootstrap and worker, which the parallel model
	// fits ([Measurement.ParallelWallMS]).
	ParallelMS float64 `json:"parallel_ms"`
	// Wrong of Bootstraps decrypted to a wrong value.
	Bootstraps int `json:"bootstraps"`
	Wrong      int `json:"wrong"`
	// Rounds is the number of timed calls MeasuredMS is the median of.
	Rounds int `json:"rounds"`
	// HeldOut marks a set left out of the fit; its Error is then the held-out error,
	// and LOOError, the error with the set left out of the fit, is the same.
	HeldOut bool `json:"held_out,omitempty"`
}

// Table returns one row per measurement, the held-out sets last.
func (pr Profile) Table() []Row {
	rows := make([]Row, 0, len(pr.Measurements)+len(pr.HeldOut))
	for i, m := range slices.Concat(pr.Measurements, pr.HeldOut) {
		p, err := m.Set.Compile()
		pred := math.NaN()
		if err == nil {
			pred = pr.PredictMS(p)
		}
		e := (pred - m.MS) / m.MS
		loo := e
		if i < len(pr.LOO.Errors) {
			loo = pr.LOO.Errors[i]
		}
		rows = append(rows, Row{Set: m.Set, Label: m.Label, MeasuredMS: m.MS, PredictedMS: pred,
			Error: e, LOOError: loo, ParallelMS: m.ParallelWallMS(),
			Bootstraps: m.Bootstraps, Wrong: m.Wrong, Rounds: m.Rounds, HeldOut: m.HeldOut})
	}
	return rows
}

// count adds a measurement's checked bootstraps, wrong results and expected wrong
// results to the profile's totals.
func (pr *Profile) count(m Measurement) {
	pr.Bootstraps += m.Bootstraps
	pr.Wrong += m.Wrong
	pr.ExpectedWrong += m.PError * float64(m.Bootstraps)
}

// holdOut records measurements left out of the fit, the model's error on them, and
// their bootstraps in the totals.
func (pr *Profile) holdOut(ms []Measurement) error {
	errs := make([]float64, len(ms))
	for i, m := range ms {
		p, err := m.Set.Compile()
		if err != nil {
			return fmt.Errorf("%w: held-out measurement %d: %w", ErrFit, i, err)
		}
		errs[i] = (pr.PredictMS(p) - m.MS) / m.MS
		pr.count(m)
	}
	held := summarize(errs)
	pr.HeldOut, pr.HeldOutError = ms, &held
	return nil
}

// Build fits the models to measurements and returns a profile with the totals; the
// caller fills the provenance (Machine, Go, TFHEGo, Created, Command, LoadAverage).
// terms nil means [DefaultTerms].
func Build(ms []Measurement, terms []string) (Profile, error) {
	if terms == nil {
		terms = DefaultTerms
	}
	if len(ms) == 0 {
		return Profile{}, fmt.Errorf("%w: nothing measured", ErrNoSets)
	}
	pts := make([]Point, len(ms))
	for i, m := range ms {
		p, err := m.Set.Compile()
		if err != nil {
			return Profile{}, fmt.Errorf("%w: measurement %d: %w", ErrFit, i, err)
		}
		pts[i] = Point{Params: p, KSMS: m.KSMS, PBSMS: m.PBSMS, MS: m.MS}
	}
	model, err := Fit(terms, pts)
	if err != nil {
		return Profile{}, err
	}
	loo, err := LeaveOneOut(terms, pts)
	if err != nil {
		return Profile{}, err
	}
	pr := Profile{Format: Format, Model: model, LOO: loo, Measurements: ms, Clock: ms[0].Clock}
	var dots []float64
	for _, m := range ms {
		pr.count(m)
		if m.DotNSPerCoef > 0 {
			dots = append(dots, m.DotNSPerCoef)
		}
	}
	pr.DotNSPerCoef = Median(dots)
	if pr.Parallel, err = fitParallel(ms, pts); err != nil {
		return Profile{}, err
	}
	if err := pr.Validate(); err != nil {
		return Profile{}, fmt.Errorf("%w: %w", ErrFit, err)
	}
	return pr, nil
}

// fitParallel fits [ParallelModel] to the measurements that ran the throughput run: the
// extra time of a bootstrap with all cores busy over its single-core time, as
// a·(single-core ms) + b·(key MB) with a, b ≥ 0 by least squares on relative errors, so
// Scale = 1 + a. The single-core time is the one measured at the same moment
// ([Measurement.ParallelRefMS]) where the measurement has it, so that a machine that
// ran slower or faster during a throughput run than over the whole calibration does not
// move the scale; older measurements use MS. Without any throughput run, the model is
// one worker.
//
// The time with all cores busy is the throughput run's wall time per bootstrap and
// worker ([Measurement.ParallelWallMS]), not the median thread CPU time of one of its
// bootstraps ([Measurement.ParallelMS]): an inference spread over the cores lasts the
// wall time of its rounds, which also holds the moments a worker's thread waits for a
// core and the slow bootstraps a median leaves out. On the built-in profile's 57
// throughput runs the wall time was 1.136× the single-core time on average, the CPU
// time 1.071× (medians 1.057× and 1.005×); priced with the CPU time, 18 of 20 rows in
// four runs of scripts/verify-table.sh measured slower than predicted.
func fitParallel(ms []Measurement, pts []Point) (ParallelModel, error) {
	workers := 0
	var rows [][2]float64
	var ys, extra []float64
	for i, m := range ms {
		par := m.ParallelWallMS()
		if m.Workers < 2 || !(par > 0) {
			continue
		}
		if workers != 0 && m.Workers != workers {
			return ParallelModel{}, fmt.Errorf("%w: throughput runs with %d and %d workers", ErrFit, workers, m.Workers)
		}
		workers = m.Workers
		single := m.MS
		if m.ParallelRefMS > 0 {
			single = m.ParallelRefMS
		}
		rows = append(rows, [2]float64{single, KeyBytes(pts[i].Params) / 1e6})
		ys = append(ys, par)
		extra = append(extra, par-single)
	}
	if workers == 0 {
		return ParallelModel{Workers: 1, Scale: 1}, nil
	}
	a := mat.NewDense(len(rows), 2, nil)
	b := make([]float64, len(rows))
	for i, r := range rows {
		a.Set(i, 0, r[0]/ys[i])
		a.Set(i, 1, r[1]/ys[i])
		b[i] = extra[i] / ys[i]
	}
	x, err := nnls(a, b)
	if err != nil {
		return ParallelModel{}, fmt.Errorf("fit parallel model: %w", err)
	}
	return ParallelModel{Workers: workers, Scale: 1 + x[0], MSPerMB: x[1]}, nil
}
