"""The FPGA flow: boards, the synthesis and place-and-route flow, the TFX-vs-FXP sweep."""
