// Depends on every library product of bpftimetool (see Package.swift); nothing to compile.
