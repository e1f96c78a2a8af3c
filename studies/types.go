package studies

import (
	"encoding/json"
	"fmt"
	"time"
)

// Direction says whether an objective is minimized or maximized.
type Direction string

// The two directions, spelled as in study specs and in the database.
const (
	Minimize Direction = "minimize"
	Maximize Direction = "maximize"
)

// Valid reports whether d is Minimize or Maximize.
func (d Direction) Valid() bool { return d == Minimize || d == Maximize }

// Objective is one value every complete trial reports, and whether lower or higher is
// better.
type Objective struct {
	Name      string    `json:"name"`
	Direction Direction `json:"direction"`
}

// State is the lifecycle state of a trial (see the package doc for the transitions).
type State int

// Trial states. COMPLETE, FAIL and PRUNED are final.
const (
	Waiting State = iota
	Running
	Complete
	Fail
	Pruned
)

var stateNames = [...]string{"WAITING", "RUNNING", "COMPLETE", "FAIL", "PRUNED"}

// AllStates lists every state in lifecycle order.
var AllStates = []State{Waiting, Running, Complete, Fail, Pruned}

// String returns the upper-case name stored in the database ("RUNNING").
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("State(%d)", int(s))
	}
	return stateNames[s]
}

// Finished reports whether s is final (COMPLETE, FAIL or PRUNED).
func (s State) Finished() bool { return s == Complete || s == Fail || s == Pruned }

// ParseState maps a name such as "COMPLETE" (any case) to its State.
func ParseState(name string) (State, error) {
	for i, n := range stateNames {
		if equalFold(n, name) {
			return State(i), nil
		}
	}
	return 0, invalidf("unknown trial state %q (want WAITING, RUNNING, COMPLETE, FAIL or PRUNED)", name)
}

// MarshalText encodes the state by name.
func (s State) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(stateNames) {
		return nil, invalidf("unknown trial state %d", int(s))
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText decodes a state name.
func (s *State) UnmarshalText(b []byte) error {
	v, err := ParseState(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// NewStudy is what [Store.CreateStudy] needs.
type NewStudy struct {
	Name       string            // unique, non-empty, printable
	Spec       json.RawMessage   // the study spec as JSON; nil is stored as null
	Objectives []Objective       // at least one, unique names
	UserAttrs  map[string]string // optional
}

// Study is a stored study. It is a snapshot; later changes are not reflected.
type Study struct {
	ID         int64             `json:"id"`
	Name       string            `json:"name"`
	Created    time.Time         `json:"created"`
	Spec       json.RawMessage   `json:"spec"`
	Objectives []Objective       `json:"objectives"`
	UserAttrs  map[string]string `json:"user_attrs"`
}

// Objective returns the position of the named objective, or -1.
func (s Study) Objective(name string) int {
	for i, o := range s.Objectives {
		if o.Name == name {
			return i
		}
	}
	return -1
}

// Directions returns the direction of each objective, in order.
func (s Study) Directions() []Direction {
	d := make([]Direction, len(s.Objectives))
	for i, o := range s.Objectives {
		d[i] = o.Direction
	}
	return d
}

// Counts holds the number of trials in each state.
type Counts struct {
	Waiting  int `json:"waiting"`
	Running  int `json:"running"`
	Complete int `json:"complete"`
	Fail     int `json:"fail"`
	Pruned   int `json:"pruned"`
}

// Total is the number of trials in all states.
func (c Counts) Total() int { return c.Waiting + c.Running + c.Complete + c.Fail + c.Pruned }

func (c *Counts) add(s State, n int) {
	switch s {
	case Waiting:
		c.Waiting += n
	case Running:
		c.Running += n
	case Complete:
		c.Complete += n
	case Fail:
		c.Fail += n
	case Pruned:
		c.Pruned += n
	}
}

// StudySummary is a study with its trial counts, as [Store.Studies] lists them.
type StudySummary struct {
	Study
	Trials    Counts `json:"trials"`
	FrontSize int    `json:"front_size"`
	// LastActivity is the latest start, heartbeat or finish time of any trial, or the
	// study's creation time when it has no trials.
	LastActivity time.Time `json:"last_activity"`
}

// Param is one parameter of a trial. Value is the internal float64 form; Distribution
// (JSON, owned by whoever sampled the value) says how to map it back to its external
// form. The goptuna adapter writes goptuna's distribution JSON here.
type Param struct {
	Name         string          `json:"name"`
	Value        float64         `json:"value"`
	Distribution json.RawMessage `json:"distribution,omitempty"`
}

// Trial is an immutable snapshot of a stored trial.
type Trial struct {
	ID      int64   `json:"id"`
	StudyID int64   `json:"study_id"`
	Number  int     `json:"number"` // dense per study: 0, 1, 2, ...
	State   State   `json:"state"`
	Params  []Param `json:"params"`
	// Values has one value per study objective, in the study's order, for COMPLETE
	// trials (and for PRUNED trials given values); nil otherwise.
	Values    []float64       `json:"values"`
	Attrs     json.RawMessage `json:"attrs,omitempty"`
	Error     string          `json:"error,omitempty"`
	Start     time.Time       `json:"start,omitzero"`
	Finish    time.Time       `json:"finish,omitzero"`
	Heartbeat time.Time       `json:"heartbeat,omitzero"`
	Worker    string          `json:"worker,omitempty"`
	// RetryOf is the number of the trial this one re-runs after [Store.ReapStale], or -1.
	RetryOf int `json:"retry_of"`
	// Intermediate holds the values the trial reported while it ran ([Store.Report]),
	// by step (an epoch, say); nil when it reported none. Pruners compare them.
	Intermediate map[int]float64 `json:"intermediate,omitempty"`
}

// Param returns the named parameter and whether the trial has it.
func (t Trial) Param(name string) (Param, bool) {
	for _, p := range t.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// TrialFilter selects trials for [Store.Trials]. Its zero value selects all trials.
type TrialFilter struct {
	States     []State // only these states; empty means all
	FromNumber int     // only trials numbered FromNumber or higher
	Limit      int     // at most this many (lowest numbers first); 0 means no limit
}

// ArtifactInfo describes a stored artifact without its data.
type ArtifactInfo struct {
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
}

// Profile is a stored calibration profile.
type Profile struct {
	ID      int64           `json:"id"`
	Machine string          `json:"machine"`
	Created time.Time       `json:"created"`
	Payload json.RawMessage `json:"payload"`
}
