print("journeyd")
