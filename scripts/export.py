"""Export a model folder: Hub folder, ONNX fp32/int8, parity check, model card (see `--help`)."""

from train.export import main

if __name__ == "__main__":
    main()
