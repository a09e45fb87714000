print("bpftimetool")
