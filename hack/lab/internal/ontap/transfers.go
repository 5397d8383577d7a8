package ontap

// /api/snapmirror/relationships/{uuid}/transfers (docs/ontap-api.md §6.1, §6.3): POST starts
// an initialize or update (201, no job), GET lists the active transfer, PATCH aborts it.

func (l *Lab) renderTransfer(r *relationship, t *transfer) record {
	rec := record{
		"uuid":              t.uuid,
		"state":             t.state,
		"bytes_transferred": l.bytesSoFar(t),
		"checkpoint_size":   0,
		"relationship": record{
			"uuid":        r.uuid,
			"restore":     r.restore,
			"destination": endpointRecord(r.dstPath(), r.dstCluster),
		},
		"storage_efficiency_enabled": true,
		"_links":                     selfLink("/api/snapmirror/relationships/" + r.uuid + "/transfers/" + t.uuid),
	}
	if t.snapName != "" {
		rec["snapshot"] = t.snapName
	}
	if t.sourceOpt != "" {
		rec["source_snapshot"] = t.sourceOpt
	}
	return rec
}

// visibleTransfers are the transfers GET shows: the active one, and finished ones with
// KeepCompletedTransfers. Callers hold l.mu.
func (l *Lab) visibleTransfers(r *relationship) []*transfer {
	var out []*transfer
	for _, t := range r.transfers {
		if t.active() || l.opts.KeepCompletedTransfers {
			out = append(out, t)
		}
	}
	return out
}

func (c *Cluster) relForTransfers(id string) *relationship {
	if r := c.rels[id]; r != nil {
		return r
	}
	return c.srcEntries[id]
}

func (c *Cluster) getTransfers(rc *reqCtx, args []string) *apiError {
	l := c.lab
	l.mu.RLock()
	r := c.relForTransfers(args[0])
	var recs []record
	if r != nil {
		for _, t := range l.visibleTransfers(r) {
			recs = append(recs, l.renderTransfer(r, t))
		}
	}
	l.mu.RUnlock()
	if r == nil {
		return errNotFound("relationship.uuid")
	}
	return rc.list(transferResource, recs)
}

func (c *Cluster) getTransfer(rc *reqCtx, args []string) *apiError {
	l := c.lab
	l.mu.RLock()
	r := c.relForTransfers(args[0])
	var rec record
	if r != nil {
		for _, t := range l.visibleTransfers(r) {
			if t.uuid == args[1] {
				rec = l.renderTransfer(r, t)
			}
		}
	}
	l.mu.RUnlock()
	if r == nil {
		return errNotFound("relationship.uuid")
	}
	if rec == nil {
		return errNotFound("uuid")
	}
	return rc.instance(transferResource, rec)
}

func (c *Cluster) postTransfer(rc *reqCtx, args []string) *apiError {
	if err := rc.checkBody("transfer", "uuid", "state", "bytes_transferred", "checkpoint_size", "relationship", "snapshot"); err != nil {
		return err
	}
	srcSnap, _, err := rc.str("source_snapshot")
	if err != nil {
		return err
	}
	if _, _, err := rc.boolean("storage_efficiency_enabled"); err != nil {
		return err
	}
	if _, ok := rc.raw("files"); ok {
		return errBadRequest(CodeSMTransferInvalidArgs, "files", "Invalid arguments: \"files\" is only valid for restore relationships.")
	}
	l := c.lab
	l.mu.Lock()
	r := c.rels[args[0]]
	if r == nil {
		l.mu.Unlock()
		return errNotFound("relationship.uuid")
	}
	var aerr *apiError
	switch {
	case r.transfer.active():
		aerr = errBadRequest(CodeSMInitializeFailed, "", "Transfer failed. Reason:Another transfer is in progress.")
	case r.transient != "":
		aerr = errBadRequest(CodeSMUpdateFailed, "", "Update operation failed. Reason:The relationship is %s.", r.transient)
	case r.state == "broken_off":
		aerr = errBadRequest(l.opts.UpdateBrokenOffCode, "",
			"Update operation failed. Reason:The relationship is broken off; updates fail until the relationship is resynchronized.")
	case r.state == "paused" && !l.opts.AllowUpdateWhenPaused:
		aerr = errBadRequest(CodeSMUpdateFailed, "", "Update operation failed. Reason:The relationship is quiesced.")
	}
	if aerr != nil {
		l.mu.Unlock()
		return aerr
	}
	kind := "update"
	if r.state == "uninitialized" || (r.state == "paused" && r.quiescedFrom == "uninitialized") {
		kind = "initialize"
	}
	t := l.startTransfer(r, kind, srcSnap)
	rec := l.renderTransfer(r, t)
	l.mu.Unlock()
	return rc.created("/api/snapmirror/relationships/"+r.uuid+"/transfers/"+t.uuid, rec)
}

// patchTransfer aborts the active transfer ({"state":"aborted"} or "hard_aborted").
func (c *Cluster) patchTransfer(rc *reqCtx, args []string) *apiError {
	if err := rc.checkBody("transfer", "uuid", "bytes_transferred", "checkpoint_size", "relationship", "snapshot"); err != nil {
		return err
	}
	state, ok, err := rc.str("state")
	if err != nil {
		return err
	}
	if !ok {
		return errMissing("state")
	}
	if state != "aborted" && state != "hard_aborted" {
		return errBadRequest(CodeSMTransferStateInvalid, "state", "SnapMirror transfer state %q is invalid.", state)
	}
	l := c.lab
	l.mu.Lock()
	err = c.abortTransfer(args[0], args[1], state)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	return rc.ok()
}

// abortTransfer ends a running transfer as aborted or hard_aborted. Callers hold l.mu.
func (c *Cluster) abortTransfer(relUUID, transferUUID, state string) *apiError {
	r := c.rels[relUUID]
	if r == nil {
		return errNotFound("relationship.uuid")
	}
	var t *transfer
	for _, x := range r.transfers {
		if x.uuid == transferUUID {
			t = x
		}
	}
	if t == nil {
		return errNotFound("uuid")
	}
	if r.policy.typ == "sync" {
		return errBadRequest(CodeSMAbortSync, "", "Abort of a synchronous SnapMirror relationship is not allowed.")
	}
	if !t.active() || t.landing {
		return errBadRequest(CodeSMTransferStateInvalid, "state", "SnapMirror transfer state is invalid: the transfer is not in progress.")
	}
	c.lab.endTransfer(r, t, state, "")
	return nil
}
