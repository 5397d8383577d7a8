package ontap

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const serialAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-"

// makeSerial derives a 12-character LUN serial number from a seed.
func makeSerial(seed string) string {
	h := sha256.Sum256([]byte(seed))
	b := make([]byte, 12)
	for i := range b {
		b[i] = serialAlphabet[int(h[i])%len(serialAlphabet)]
	}
	return string(b)
}

// isoTime formats a time the way ONTAP does ("2021-04-10T09:51:13+00:00").
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-07:00") }

// isoDuration formats a duration as ISO 8601 ("PT8H35M42S", "P2DT3H", "PT0S"), whole seconds.
func isoDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	secs := int64(d / time.Second)
	days := secs / 86400
	secs %= 86400
	h, m, s := secs/3600, (secs%3600)/60, secs%60
	var b strings.Builder
	b.WriteString("P")
	if days > 0 {
		fmt.Fprintf(&b, "%dD", days)
	}
	if h == 0 && m == 0 && s == 0 && days > 0 {
		return b.String()
	}
	b.WriteString("T")
	if h > 0 {
		fmt.Fprintf(&b, "%dH", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dM", m)
	}
	if s > 0 || (h == 0 && m == 0) {
		fmt.Fprintf(&b, "%dS", s)
	}
	return b.String()
}

// parseISODuration parses the ISO 8601 durations ONTAP uses (P[nD][T[nH][nM][nS]], also weeks,
// and the "P2DT" form with an empty time part).
func parseISODuration(s string) (time.Duration, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(s, "P") || len(s) < 2 {
		return 0, false
	}
	s = s[1:]
	var d time.Duration
	inTime := false
	num := ""
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			num += string(r)
		case r == 'T':
			if inTime || num != "" {
				return 0, false
			}
			inTime = true
		default:
			if num == "" {
				return 0, false
			}
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil {
				return 0, false
			}
			num = ""
			var unit time.Duration
			switch {
			case !inTime && r == 'W':
				unit = 7 * 24 * time.Hour
			case !inTime && r == 'D':
				unit = 24 * time.Hour
			case inTime && r == 'H':
				unit = time.Hour
			case inTime && r == 'M':
				unit = time.Minute
			case inTime && r == 'S':
				unit = time.Second
			default:
				return 0, false
			}
			d += time.Duration(n) * unit
		}
	}
	if num != "" {
		return 0, false
	}
	return d, true
}

// snapmirrorSnapshotName is snapmirror.<destination SVM uuid>_<destination volume MSID>.<ts>.
func snapmirrorSnapshotName(dstSVMUUID string, msid int64, t time.Time) string {
	return fmt.Sprintf("snapmirror.%s_%d.%s", dstSVMUUID, msid, t.UTC().Format("2006-01-02_150405"))
}

// parseSize parses an integer byte count or a size string with a KB/MB/GB/TB/PB suffix (base
// 1024), as ONTAP accepts on input.
func parseSize(v any) (int64, bool) {
	switch x := v.(type) {
	case float64:
		if x < 0 || x != float64(int64(x)) {
			return 0, false
		}
		return int64(x), true
	case string:
		s := strings.ToUpper(strings.TrimSpace(x))
		mult := int64(1)
		for i, suf := range []string{"KB", "MB", "GB", "TB", "PB"} {
			if strings.HasSuffix(s, suf) {
				mult = 1 << (10 * (i + 1))
				s = strings.TrimSuffix(s, suf)
				break
			}
		}
		if mult == 1 {
			for i, suf := range []string{"K", "M", "G", "T", "P"} {
				if strings.HasSuffix(s, suf) {
					mult = 1 << (10 * (i + 1))
					s = strings.TrimSuffix(s, suf)
					break
				}
			}
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n < 0 {
			return 0, false
		}
		return n * mult, true
	}
	return 0, false
}
