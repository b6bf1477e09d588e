import Spindle
print("hi")
