package perf

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// tableColumns are the columns of the table WriteTable prints.
func tableColumns() []string {
	return []string{"scenario", "target", "measured", "p50", "p99", "verdict", "note"}
}

// WriteTable writes rep as a line of machine facts, a Markdown table (so it
// can be pasted into the README as it is) and the run's notes.
func WriteTable(w io.Writer, rep Report) error {
	m := rep.Machine
	cpu := ""
	if m.CPUModel != "" {
		cpu = ", " + m.CPUModel
	}
	var b strings.Builder
	load := ""
	if m.LoadAvg != "" {
		load = ", load average " + m.LoadAvg + " at start"
	}
	fmt.Fprintf(&b, "hubdesk bench: %d CPUs (GOMAXPROCS %d%s), %s %s/%s%s\n\n",
		m.CPUs, m.GOMAXPROCS, cpu, m.GoVersion, m.OS, m.Arch, load)

	columns := tableColumns()
	cells := [][]string{columns}
	for _, r := range rep.Rows {
		cells = append(cells, []string{
			r.Scenario, r.Target, formatMeasured(r.Result),
			formatLatency(r.P50), formatLatency(r.P99), string(r.Verdict), r.Note,
		})
	}
	widths := make([]int, len(columns))
	for _, row := range cells {
		for i, c := range row {
			widths[i] = max(widths[i], len(c))
		}
	}
	line := func(row []string) {
		b.WriteString("|")
		for i, c := range row {
			// The note is last and often long: no padding after it.
			if i == len(row)-1 {
				fmt.Fprintf(&b, " %s |", c)
				continue
			}
			fmt.Fprintf(&b, " %-*s |", widths[i], c)
		}
		b.WriteString("\n")
	}
	line(cells[0])
	sep := make([]string, len(columns))
	for i := range sep {
		sep[i] = strings.Repeat("-", max(widths[i], 3))
		if i == len(sep)-1 {
			sep[i] = "---"
		}
	}
	line(sep)
	for _, row := range cells[1:] {
		line(row)
	}
	if len(rep.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range rep.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func formatMeasured(r Result) string {
	if r.Verdict == Error || r.Verdict == Skip {
		return "-"
	}
	if r.Measured >= 100 {
		return groupThousands(int64(r.Measured+0.5)) + " " + r.Unit
	}
	return threeDigits(r.Measured) + " " + r.Unit
}

func formatLatency(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return threeDigits(ms(d)) + "ms"
}

// threeDigits writes f with three significant digits, and whole numbers
// from 100 up.
func threeDigits(f float64) string {
	if f >= 100 {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'g', 3, 64)
}

// groupThousands writes n with commas between groups of three digits.
func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
