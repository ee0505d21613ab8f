// Package hub is a client for the Azure IoT Hub service REST API
// (api-version 2021-04-12): connection strings, SAS tokens, device and module
// identities, device and module twins, queries and statistics.
//
// Every write that can be conditional takes a Condition: IfMatch(etag) for the
// version the caller saw, or Unconditional() as an explicit, separately named
// choice. An empty etag is an error, never a silent "*".
//
// Errors returned by the hub are *Error values that match the sentinel errors
// of this package with errors.Is (ErrNotFound, ErrPreconditionFailed, ...).
package hub
