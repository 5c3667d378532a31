print("hello from lua", 1 + 2, 2^0.5, math.pi)
