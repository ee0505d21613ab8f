// Package proof holds hubdesk's reliability proofs: tests that drive the
// dashboard and the emulated hub the way people and devices do, record what
// each of them was told, and then check the hub against that record.
//
//   - TestNoLostUpdateTwin: concurrent editors edit one module twin through
//     the dashboard's HTML forms (editor, review, save, and on a 412 the
//     conflict prompt) while the device simulator writes reported
//     properties. Every save the dashboard reported as saved must be in the
//     twin's history, every refused one must have been shown as a conflict,
//     and the audit trail must hold one ok entry per save.
//   - TestNoLostUpdateIdentity: the same for a device identity (status and
//     status reason) saved with If-Match.
//   - TestCrashDurability: a durable emulator in a child process is killed
//     with SIGKILL under a write load and restarted on the same data; every
//     write it acknowledged must still be there.
//   - TestSoak: a bounded run of browsing and editing through the dashboard,
//     sampling goroutines and heap; neither may grow.
//
// Each test has a short form, run by default (go test ./... and CI's
// go test -race ./...), and a full form:
//
//	HUBDESK_PROOF=full go test -v -run . -timeout 60m ./proof
//
// The full form runs 50 editors of 100 rounds each, 20 crash cycles, and a
// three-minute soak. The -v output is the evidence: every test logs what it
// measured (counts, durations, rates, samples).
package proof
