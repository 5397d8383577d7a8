package ontap

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Response helpers shared by the resource handlers: collection and instance GETs, synchronous
// creates, and asynchronous operations answered with a job link.

const defaultMaxRecords = 10000

// list answers a collection GET with the matching records of res.
func (rc *reqCtx) list(res *resource, recs []record) *apiError {
	q := rc.q
	matched := recs[:0:0]
	for _, r := range recs {
		if matches(r, q.filters) {
			matched = append(matched, r)
		}
	}
	sortRecords(matched, q.orderBy, res)
	startIdx := 0
	if len(q.start) > 0 {
		startIdx = len(matched)
		for i, r := range matched {
			if cursorMatches(r, q.start) {
				startIdx = i
				break
			}
		}
		if startIdx == len(matched) && len(q.orderBy) == 0 && len(res.keys) > 0 {
			// The cursor record is gone: continue after where it would have been.
			for i, r := range matched {
				if compareValues(first(lookup(r, res.keys[0])), q.start[res.keys[0]]) > 0 {
					startIdx = i
					break
				}
			}
		}
	}
	max := defaultMaxRecords
	if q.maxRecords >= 0 {
		max = q.maxRecords
	}
	end := startIdx + max
	if end > len(matched) {
		end = len(matched)
	}
	page := matched[startIdx:end]
	returnRecords := q.returnRecords == nil || *q.returnRecords
	body := record{}
	links := selfLink(rc.r.URL.RequestURI())
	if returnRecords {
		out := make([]any, 0, len(page))
		for _, r := range page {
			out = append(out, project(r, q.fields, res, expensiveFields(res.kind)))
		}
		body["records"] = out
		body["num_records"] = len(page)
	} else {
		body["num_records"] = len(matched) - startIdx
	}
	if returnRecords && end < len(matched) {
		next := rc.nextLink(res, matched[end])
		links["next"] = record{"href": next}
		rc.w.Header().Set("Link", "<"+next+`>; rel="next"`)
	}
	body["_links"] = links
	rc.writeJSON(http.StatusOK, body)
	return nil
}

func cursorMatches(r record, start map[string]string) bool {
	for k, v := range start {
		if first(lookup(r, k)) != v {
			return false
		}
	}
	return true
}

// nextLink is the request's own query with start.<key>=<value> cursors for the next record.
func (rc *reqCtx) nextLink(res *resource, next record) string {
	vals, _ := url.ParseQuery(rc.r.URL.RawQuery)
	for k := range vals {
		if strings.HasPrefix(k, "start.") {
			delete(vals, k)
		}
	}
	for _, k := range res.keys {
		vals.Set("start."+k, first(lookup(next, k)))
	}
	return rc.r.URL.Path + "?" + vals.Encode()
}

// instance answers an instance GET with rec.
func (rc *reqCtx) instance(res *resource, rec record) *apiError {
	sel := rc.q.fields
	if sel == nil {
		sel = standardFields
	}
	rc.writeJSON(http.StatusOK, project(rec, sel, res, expensiveFields(res.kind)))
	return nil
}

// created answers a synchronous POST: 201, a Location header and, with return_records=true,
// the new record.
func (rc *reqCtx) created(location string, rec record) *apiError {
	if location != "" {
		rc.w.Header().Set("Location", location)
	}
	body := record{}
	if rc.q.returnRecords != nil && *rc.q.returnRecords && rec != nil {
		body["num_records"] = 1
		body["records"] = []any{rec}
	}
	rc.writeJSON(http.StatusCreated, body)
	return nil
}

// ok answers a synchronous PATCH or DELETE.
func (rc *reqCtx) ok() *apiError {
	rc.writeJSON(http.StatusOK, record{})
	return nil
}

// accepted answers an asynchronous operation with its job. With return_timeout it first waits
// (lab time) for the job: finished in time, it answers 201 (POST) or 200, or the job's error;
// otherwise 202.
func (rc *reqCtx) accepted(j *job, location string, rec record) *apiError {
	if location != "" {
		rc.w.Header().Set("Location", location)
	}
	done := false
	if rc.q.returnTimeout > 0 {
		done = rc.l.waitLab(rc.r.Context(), time.Duration(rc.q.returnTimeout)*time.Second, j.done)
	}
	body := record{"job": record{"uuid": j.uuid, "_links": selfLink("/api/cluster/jobs/" + j.uuid)}}
	if rc.q.returnRecords != nil && *rc.q.returnRecords && rec != nil {
		body["num_records"] = 1
		body["records"] = []any{rec}
	}
	status := http.StatusAccepted
	if done {
		rc.l.mu.RLock()
		state, code, msg := j.state, j.code, j.message
		rc.l.mu.RUnlock()
		if state == "failure" && !rc.l.opts.ReturnFailedJobAsJob {
			return &apiError{Status: statusForCode(code), Code: code, Message: msg}
		}
		status = http.StatusOK
		if rc.r.Method == http.MethodPost {
			status = http.StatusCreated
		}
	}
	rc.writeJSON(status, body)
	return nil
}

// statusForCode is the HTTP status of an error code raised outside its request (a failed job
// surfaced through return_timeout).
func statusForCode(code int) int {
	switch code {
	case CodeNotFound:
		return http.StatusNotFound
	case CodeDuplicate, CodeInUse:
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

// waitLab waits until done is closed (true) or d of lab time has passed or ctx ends (false).
// A nil done just waits.
func (l *Lab) waitLab(ctx context.Context, d time.Duration, done <-chan struct{}) bool {
	timeout := make(chan struct{})
	t := l.clk.AfterFunc(d, func() { close(timeout) })
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-timeout:
	case <-ctx.Done():
	case <-l.stop:
	}
	if done != nil {
		select {
		case <-done:
			return true
		default:
		}
	}
	return false
}

// byQuery answers a query-based PATCH or DELETE on a collection (§2): do starts one job per
// record (keyed by uuid) that matches the query's filters; the answer lists the jobs. A query is
// required.
func (c *Cluster) byQuery(rc *reqCtx, recs map[string]record, do func(uuid string) (*job, *apiError)) *apiError {
	if len(rc.q.filters) == 0 {
		return errBadRequest(CodeMissingValue, "", "A query is required for a PATCH or DELETE on a collection.")
	}
	jobs := []any{}
	for _, id := range sortedKeys(recs) {
		if !matches(recs[id], rc.q.filters) {
			continue
		}
		j, err := do(id)
		if err != nil {
			return err
		}
		jobs = append(jobs, record{"uuid": j.uuid, "_links": selfLink("/api/cluster/jobs/" + j.uuid)})
	}
	status := http.StatusAccepted
	if len(jobs) == 0 {
		status = http.StatusOK
	}
	rc.writeJSON(status, record{"jobs": jobs, "num_records": len(jobs)})
	return nil
}
