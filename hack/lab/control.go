package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"vmdr.local/lab/internal/clock"
	"vmdr.local/lab/internal/ontap"
	"vmdr.local/lab/internal/topology"
	"vmdr.local/lab/internal/vcenter"
)

// lab is the running world behind the control API.
type lab struct {
	clock    *clock.Clock
	storage  *ontap.Lab
	world    topology.World
	vcenters map[string]*vcenter.VCenter
	pki      *labPKI
	stateDir string
	desc     description
}

type apiError struct {
	status int
	msg    string
}

func (e apiError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return apiError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

// duration accepts "90s"-style strings in JSON.
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
}

// controlHandler is the lab's control API (see README.md). It is test tooling on loopback: no
// authentication. Every answer is JSON; errors are {"error": "..."} with a 4xx status.
func (l *lab) controlHandler() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, f func(r *http.Request) (any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if p := recover(); p != nil {
					writeJSON(w, http.StatusInternalServerError, map[string]string{"error": fmt.Sprint(p)})
				}
			}()
			v, err := f(r)
			if err != nil {
				status := http.StatusBadRequest
				var ae apiError
				if errors.As(err, &ae) {
					status = ae.status
				}
				writeJSON(w, status, map[string]string{"error": err.Error()})
				return
			}
			if v == nil {
				v = map[string]bool{"ok": true}
			}
			writeJSON(w, http.StatusOK, v)
		})
	}

	handle("GET /healthz", func(*http.Request) (any, error) { return nil, nil })
	handle("GET /lab", func(*http.Request) (any, error) { return l.desc, nil })
	handle("GET /clock", func(*http.Request) (any, error) {
		return map[string]any{"now": l.clock.Now().UTC(), "offset": l.clock.Offset().String()}, nil
	})
	handle("POST /clock/advance", func(r *http.Request) (any, error) {
		var req struct{ By duration }
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		if req.By <= 0 {
			return nil, badRequest(`"by" must be a positive duration`)
		}
		l.clock.Advance(time.Duration(req.By))
		return map[string]any{"now": l.clock.Now().UTC()}, nil
	})

	// Whole-site and network faults.
	handle("POST /sites/{site}/down", func(r *http.Request) (any, error) {
		var req struct{ Mode string }
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		vc, cl, err := l.site(r)
		if err != nil {
			return nil, err
		}
		mode, err := downMode(req.Mode)
		if err != nil {
			return nil, err
		}
		vc.SetDown(mode)
		cl.SetDown(mode != vcenter.Up)
		return nil, nil
	})
	handle("POST /link", func(r *http.Request) (any, error) {
		var req struct{ Cut bool }
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		if req.Cut {
			l.storage.CutLink()
		} else {
			l.storage.RestoreLink()
		}
		return nil, nil
	})
	handle("POST /faults/clear", func(*http.Request) (any, error) {
		for _, vc := range l.vcenters {
			vc.ClearFaults()
			vc.SetDown(vcenter.Up)
		}
		for _, cl := range l.storage.Clusters() {
			cl.ClearFaults()
			cl.SetDown(false)
		}
		l.storage.RestoreLink()
		return nil, nil
	})

	// vCenter.
	handle("POST /sites/{site}/vcenter/down", func(r *http.Request) (any, error) {
		var req struct{ Mode string }
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		vc, _, err := l.site(r)
		if err != nil {
			return nil, err
		}
		mode, err := downMode(req.Mode)
		if err != nil {
			return nil, err
		}
		vc.SetDown(mode)
		return nil, nil
	})
	handle("POST /sites/{site}/vcenter/restart", func(r *http.Request) (any, error) {
		var req struct{ Outage duration }
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		vc, _, err := l.site(r)
		if err != nil {
			return nil, err
		}
		// Restart blocks for the outage; a bound keeps a typo from taking the vCenter away for good.
		if req.Outage < 0 || time.Duration(req.Outage) > maxRestartOutage {
			return nil, badRequest(`"outage" must be between 0s and %v`, maxRestartOutage)
		}
		vc.Restart(time.Duration(req.Outage))
		return nil, nil
	})
	handle("POST /sites/{site}/vcenter/vms", func(r *http.Request) (any, error) {
		var vm topology.VM
		if err := decode(r, &vm); err != nil {
			return nil, err
		}
		if vm.Name == "" || vm.Datastore == "" {
			return nil, badRequest(`"Name" and "Datastore" are required`)
		}
		vc, _, err := l.site(r)
		if err != nil {
			return nil, err
		}
		ref, err := vc.AddVM(vm)
		if err != nil {
			return nil, err
		}
		return map[string]string{"ref": ref}, nil
	})
	handle("POST /sites/{site}/vcenter/delay", func(r *http.Request) (any, error) {
		var req struct {
			Method string
			Delay  duration
		}
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		vc, _, err := l.site(r)
		if err != nil {
			return nil, err
		}
		vc.SetMethodDelay(req.Method, time.Duration(req.Delay))
		return nil, nil
	})
	handle("POST /sites/{site}/vcenter/task-duration", func(r *http.Request) (any, error) {
		var req struct {
			Method   string
			Duration duration
		}
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		vc, _, err := l.site(r)
		if err != nil {
			return nil, err
		}
		vc.SetTaskDuration(req.Method, time.Duration(req.Duration))
		return nil, nil
	})
	for _, kind := range []string{"fail-next-task", "fail-next-call"} {
		handle("POST /sites/{site}/vcenter/"+kind, func(r *http.Request) (any, error) {
			var req struct{ Method, Fault, Entity string }
			if err := decode(r, &req); err != nil {
				return nil, err
			}
			if req.Entity != "" {
				req.Method += "@" + req.Entity // that entity's next task only (fail-next-task)
			}
			vc, _, err := l.site(r)
			if err != nil {
				return nil, err
			}
			f, err := vcenter.NewFault(req.Fault)
			if err != nil {
				return nil, badRequest("%v", err)
			}
			if kind == "fail-next-task" {
				vc.FailNextTask(req.Method, f)
			} else {
				vc.FailNextCall(req.Method, f)
			}
			return nil, nil
		})
	}

	// ONTAP.
	handle("POST /sites/{site}/ontap/down", func(r *http.Request) (any, error) {
		var req struct{ Down bool }
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		_, cl, err := l.site(r)
		if err != nil {
			return nil, err
		}
		cl.SetDown(req.Down)
		return nil, nil
	})
	handle("POST /sites/{site}/ontap/fail-next-job", func(r *http.Request) (any, error) {
		var f ontap.JobFault
		if err := decode(r, &f); err != nil {
			return nil, err
		}
		_, cl, err := l.site(r)
		if err != nil {
			return nil, err
		}
		cl.FailNextJob(f)
		return nil, nil
	})
	handle("POST /sites/{site}/ontap/fail-next-request", func(r *http.Request) (any, error) {
		var f ontap.RequestFault
		if err := decode(r, &f); err != nil {
			return nil, err
		}
		_, cl, err := l.site(r)
		if err != nil {
			return nil, err
		}
		cl.FailNextRequest(f)
		return nil, nil
	})
	handle("POST /sites/{site}/ontap/delay", func(r *http.Request) (any, error) {
		var req struct {
			Method, Path string
			Duration     duration
		}
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		_, cl, err := l.site(r)
		if err != nil {
			return nil, err
		}
		cl.SetDelay(ontap.Delay{Method: req.Method, Path: req.Path, Duration: time.Duration(req.Duration)})
		return nil, nil
	})

	// Ground truth.
	handle("GET /truth/storage", func(*http.Request) (any, error) { return l.storage.Truth(), nil })
	handle("GET /ontap/options", func(*http.Request) (any, error) { return l.storage.Options(), nil })
	handle("GET /truth/sites/{site}/vcenter", func(r *http.Request) (any, error) {
		vc, _, err := l.site(r)
		if err != nil {
			return nil, err
		}
		return vc.Truth(), nil
	})
	handle("GET /truth/sites/{site}/vcenter/vms/{name}", func(r *http.Request) (any, error) {
		vc, _, err := l.site(r)
		if err != nil {
			return nil, err
		}
		vm, ok := vc.VM(r.PathValue("name"))
		return found(vm, ok, "no VM %q at %s", r.PathValue("name"), vc.SiteID())
	})
	handle("GET /truth/sites/{site}/ontap/relationships/{volume}", func(r *http.Request) (any, error) {
		_, cl, err := l.site(r)
		if err != nil {
			return nil, err
		}
		rel, ok := cl.Relationship(r.PathValue("volume"))
		return found(rel, ok, "no relationship to %q at %s", r.PathValue("volume"), cl.Site())
	})
	handle("GET /truth/sites/{site}/ontap/volumes/{volume}", func(r *http.Request) (any, error) {
		_, cl, err := l.site(r)
		if err != nil {
			return nil, err
		}
		v, ok := cl.Volume(r.PathValue("volume"))
		return found(v, ok, "no volume %q at %s", r.PathValue("volume"), cl.Site())
	})
	return jsonFallback(mux)
}

// maxRestartOutage bounds POST /sites/{site}/vcenter/restart's outage.
const maxRestartOutage = 5 * time.Minute

// jsonFallback answers what mux has no route for (unknown path: 404, known path with another
// method: 405 with Allow) with the API's JSON error instead of the mux's plain text.
func jsonFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		st := &statusRecorder{header: w.Header()}
		mux.ServeHTTP(st, r) // only the status and headers (Allow) are kept
		msg := fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)
		if st.status == http.StatusMethodNotAllowed {
			msg = fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, w.Header().Get("Allow"))
		}
		if st.status < 400 {
			st.status = http.StatusNotFound
		}
		w.Header().Del("X-Content-Type-Options")
		writeJSON(w, st.status, map[string]string{"error": msg})
	})
}

// statusRecorder keeps the status a handler writes and drops its body.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(b), nil
}
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}

// found answers a ground-truth lookup: the object, or 404 with the message.
func found[T any](v T, ok bool, format string, args ...any) (any, error) {
	if !ok {
		return nil, apiError{http.StatusNotFound, fmt.Sprintf(format, args...)}
	}
	return v, nil
}

func (l *lab) site(r *http.Request) (*vcenter.VCenter, *ontap.Cluster, error) {
	id := r.PathValue("site")
	vc, ok := l.vcenters[id]
	cl := l.storage.Cluster(id)
	if !ok || cl == nil {
		return nil, nil, apiError{http.StatusNotFound, fmt.Sprintf("no site %q (sites: site1, site2)", id)}
	}
	return vc, cl, nil
}

func downMode(s string) (vcenter.DownMode, error) {
	switch strings.ToLower(s) {
	case "", "up":
		return vcenter.Up, nil
	case "reset":
		return vcenter.DownReset, nil
	case "hang":
		return vcenter.DownHang, nil
	}
	return vcenter.Up, badRequest(`mode must be "up", "reset" or "hang", not %q`, s)
}

// decode reads a JSON body strictly: unknown fields are an error, so a typo in a test is loud.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("bad request body: %v", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
