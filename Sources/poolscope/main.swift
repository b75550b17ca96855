print("poolscope")
