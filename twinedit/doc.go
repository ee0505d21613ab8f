// Package twinedit turns a person's edits of a twin's tags and desired
// properties into what the hub is sent, as pure functions:
//  1. Editable strips $metadata and $version and indents a section for the editor.
//  2. Diff compares the edited draft with the version loaded and gives the RFC 7386 merge patch, sent with If-Match of that version's etag.
//  3. After a 412, Rebase compares what changed underneath with the draft, path by path, and merges when nothing overlaps.
//  4. Resolve settles conflicts one path at a time; Overwrite previews a forced write and the values it would lose.
//  5. Inverse gives the merge patch that reverts a write, for the audit trail.
package twinedit
