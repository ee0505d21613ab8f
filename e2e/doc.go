// Package e2e holds hubdesk's end-to-end tests: the dashboard served over
// HTTP on the emulated hub, driven by people in headless Chromium (Debian's
// chromium package, or the binary named by HUBDESK_CHROMIUM) through
// sign-in, device search, identity edits, the twin editor, review and save,
// and both conflict prompts. It has no code of its own; see the _test files.
//
// With HUBDESK_SCREENSHOTS=1 the screenshot test writes the README's
// screenshots to docs/screenshots/.
package e2e
