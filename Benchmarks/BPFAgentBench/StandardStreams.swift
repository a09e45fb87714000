// C's `stdout` and `stderr` are global vars that Glibc does not mark for concurrency, and this
// file's import is the one that may reach them (`@preconcurrency`; the others import Foundation,
// which exports Glibc unmarked). The driver uses them from its main thread only.
@preconcurrency import Glibc

/// Makes stdout line-buffered: each figure shows as it is measured, through a pipe too.
func lineBufferedOutput() { setvbuf(stdout, nil, _IOLBF, 0) }

/// Writes `text` on stderr.
func warn(_ text: String) { fputs(text, stderr) }
