"""cocotb testbenches, their runner, stimulus and scoreboards."""
