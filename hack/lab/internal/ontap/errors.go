package ontap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// ONTAP error codes the simulator returns (docs/ontap-api.md §4–§13). Codes are integers in
// job objects and decimal strings in error bodies.
const (
	// Generic codes (§5).
	CodeDuplicate         = 1
	CodeInvalidField      = 2
	CodeNotSupported      = 3
	CodeNotFound          = 4
	CodeNotAuthorized     = 6
	CodeInUse             = 8
	CodeMissingValue      = 262177
	CodeUnexpectedArg     = 262179
	CodeInvalidValue      = 262185
	CodeInvalidValueRange = 262197
	CodeInvalidContext    = 262186
	CodeBodyNotAllowed    = 262198
	CodeInvalidJSON       = 262199
	CodeInternal          = 65562

	// Jobs (§4).
	CodeJobTerminal = 458762
	CodeJobNoPause  = 458783
	CodeJobNoCancel = 458784

	// SnapMirror relationships (§6.5).
	CodeSMBreakFailed           = 13303808 // Transition to broken_off state failed
	CodeSMPauseFailed           = 13303809 // Transition to paused state failed
	CodeSMResyncFailed          = 13303810 // Transition to snapmirrored state failed
	CodeSMResumeFailed          = 13303811 // Transition from paused state failed
	CodeSMInitializeFailed      = 13303812 // Initialize failed / transfer already in progress
	CodeSMReleaseDeleteFailed   = 13303813 // Release succeeded but delete failed
	CodeSMPeerSVMUnknown        = 13303814 // Could not retrieve the source or destination SVM UUID
	CodeSMPeerClusterUnknown    = 13303815 // Could not retrieve peer cluster info
	CodeSMUnknownState          = 13303817 // Unknown value for the SnapMirror state
	CodeSMInvalidTransition     = 13303818 // Invalid state transition requested
	CodeSMPolicyInfo            = 13303819 // Could not retrieve SnapMirror policy information
	CodeSMPolicyThenState       = 13303820 // Policy updated, state transition failed
	CodeSMInvalidPolicy         = 13303821 // Invalid SnapMirror policy name/UUID
	CodeSMReleaseFailed         = 13303822 // Release failed
	CodeSMQuiesceTimeout        = 13303823 // Quiesce operation timed out
	CodeSMQuiesceFailed         = 13303824 // Quiescing the relationship has failed
	CodeSMInvalidState          = 13303829 // Invalid state
	CodeSMTransientState        = 13303830 // Transient state
	CodeSMInvalidStateAsync     = 13303831 // Invalid state for async SnapMirror relationship
	CodeSMAlreadyInitialized    = 13303832 // SnapMirror relationship is already initialized
	CodeSMStateChangeImpossible = 13303833 // Requested state change is not possible
	CodeSMFlagOnlyBreak         = 13303835 // Given flag is valid only when PATCH state is broken_off
	CodeSMFlagOnlyResync        = 13303836 // Given flag is valid only when PATCH state is snapmirrored
	CodeSMFlagsNeedState        = 13303837 // Given flags are valid only if a state change is requested
	CodeSMUpdateFailed          = 13303844 // Update operation failed
	CodeSMTransferInvalidArgs   = 13303847 // Invalid arguments/property
	CodeSMAbortSync             = 13303848 // Abort of sync SnapMirror is not allowed
	CodeSMTransferStateInvalid  = 13303849 // SnapMirror transfer state is invalid
	CodeSMNoColon               = 13303852 // destination.path does not contain ":"
	CodeSMStateOnCreate         = 13303873 // state on create only with create_destination
	CodeSMNotSupported          = 13303841 // Operation not supported for these endpoints
	CodeSMDestNotDP             = 6619546  // Destination must be a dp volume
	CodeSMSameVolume            = 6619441  // Source volume same as destination (later versions)
	CodeSMDuplicateDestination  = 6619637  // Relationship with specified destination already exists
	CodeSMScheduleNotFound      = 6619699  // Schedule not found
	CodeSMPathMismatch          = 13304120 // source.path/destination.path do not match (later versions)

	// Volumes and FlexClone (§8).
	CodeVolParentMissing      = 918246
	CodeVolParentNotFound     = 524601
	CodeVolSnapshotMismatch   = 918243
	CodeVolCloneInvalidType   = 918244
	CodeVolCloneInvalidValue  = 918247
	CodeVolSplitInvalid       = 918248
	CodeVolNASPathInvalid     = 918252
	CodeVolHasClones          = 524615
	CodeVolBusy               = 524486
	CodeVolDPNotInitialized   = 917536
	CodeVolNotFound           = 917927
	CodeSVMMismatch           = 2621706
	CodeSVMMissing            = 2621707
	CodeSVMNotFound           = 2621462
	CodeSnapOnlyRW            = 1638461
	CodeSnapDeleteOnlyRW      = 1638521
	CodeSnapHasOwner          = 1638543
	CodeSnapLocked            = 1638555
	CodeSnapNotFound          = 1638600
	CodeSnapDuplicate         = 525059
	CodeSnapVolumeNotOnline   = 524479
	CodeSnapInvalidName       = 1638518
	CodeLUNMapped             = 1254197
	CodeLUNAlreadyMapped      = 1254207
	CodeLUNNotFound           = 5374875
	CodeLUNVolumeOffline      = 5374866
	CodeLUNMapNoLUN           = 5374901
	CodeLUNMapNoIgroup        = 5374902
	CodeLUNInSnapshot         = 5374238
	CodeLUNMapNotFound        = 5374922
	CodeIgroupExists          = 5374023
	CodeIgroupInvalidName     = 5373958
	CodeIgroupBadWWPN         = 5374038
	CodeIgroupBadIQN          = 5374039
	CodeIgroupBadInitiator    = 5373993
	CodeIgroupMapped          = 1254213
	CodeIgroupNotFound        = 5374852
	CodeIgroupNoInitiators    = 5374033
	CodeIgroupInitiatorExists = 5374035
	CodeIgroupRecordsAndName  = 5374853
	CodeIgroupInitiatorMapped = 5374921 // simulator choice: initiator removal refused while mapped
	CodeLUNMapIgroupGone      = 5374878 // igroup not found (later versions' code)
	CodeLUNReadOnly           = 5374855 // simulator choice: the LUN's volume is read-only (DP)
	CodeLUNExists             = 5374252 // simulator choice: a LUN with this name exists
	CodeLUNIDInUse            = 1254224 // simulator choice: the LUN id is in use in the igroup
	CodeIgroupProtocolRO      = 5374862 // simulator choice: an igroup's protocol cannot change

	// NFS export policies (§13).
	CodeExportPolicyInUse     = 1703945
	CodeExportPolicyDefault   = 1703947
	CodeExportPolicyBadName   = 1703952
	CodeExportPolicyNotFound  = 1703954
	CodeExportRuleExists      = 1704070
	CodeExportClientInvalid   = 1704039
	CodeExportRuleNotFound    = 1703956 // simulator choice: rule index does not exist
	CodeExportPolicyDuplicate = 1703950 // simulator choice: a policy with this name exists

	// Unhealthy-reason codes (simulator choices; the spec's example value is 6621444).
	ReasonTransferFailed = 6621444
)

// apiError is an ONTAP error: an HTTP status plus the {"error":{...}} body.
type apiError struct {
	Status  int
	Code    int
	Message string
	Target  string
}

func (e *apiError) Error() string { return fmt.Sprintf("ONTAP error %d: %s", e.Code, e.Message) }

// errorf builds an apiError with a formatted message.
func errorf(status, code int, target, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...), Target: target}
}

// errNotFound is the documented 404 for an unknown uuid or key.
func errNotFound(target string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: CodeNotFound, Message: "entry doesn't exist", Target: target}
}

// errBadRequest is a 400 with the given code.
func errBadRequest(code int, target, format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, code, target, format, args...)
}

// errInvalidValue is the documented "invalid value for field" error (262197).
func errInvalidValue(field, value, rangeHint string) *apiError {
	msg := fmt.Sprintf("The value %q is invalid for field %q", value, field)
	if rangeHint != "" {
		msg += " (" + rangeHint + ")"
	}
	return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidValueRange, Message: msg, Target: field}
}

// errUnexpectedArg is the error for an unknown query parameter or body field.
func errUnexpectedArg(name string) *apiError {
	return errorf(http.StatusBadRequest, CodeUnexpectedArg, name, "Unexpected argument %q.", name)
}

// errMissing is the error for a missing required field.
func errMissing(field string) *apiError {
	return errorf(http.StatusBadRequest, CodeMissingValue, field, "Missing value for %q.", field)
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Message string `json:"message"`
	Code    string `json:"code"`
	Target  string `json:"target,omitempty"`
}

// writeError sends e as an ONTAP error body.
func writeError(w http.ResponseWriter, e *apiError) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	body := errorBody{Error: errorDetail{Message: e.Message, Code: strconv.Itoa(e.Code), Target: e.Target}}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body)
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
