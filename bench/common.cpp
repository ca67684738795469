#include "common.h"

#include <fstream>
#include <map>
#include <sstream>

namespace convgen_bench {

std::vector<std::string> split(const std::string &text, char sep) {
    std::vector<std::string> parts;
    std::stringstream in(text);
    for (std::string part; std::getline(in, part, sep);) parts.push_back(part);
    return parts;
}

std::vector<SuiteLayer> read_suite(const std::string &path) {
    std::ifstream file(path);
    if (!file) throw convgen::Error(convgen::ErrorCode::IoError, "cannot read the layer suite " + path);
    std::vector<SuiteLayer> layers;
    std::vector<std::string> header;
    for (std::string line; std::getline(file, line);) {
        if (line.empty() || line[0] == '#') continue;
        const std::vector<std::string> cells = split(line, ',');
        if (header.empty()) {
            header = cells;
            continue;
        }
        if (cells.size() != header.size()) {
            throw convgen::Error(convgen::ErrorCode::IoError, path + ": row '" + line + "' has " +
                                                                  std::to_string(cells.size()) + " cells, the header " +
                                                                  std::to_string(header.size()));
        }
        std::map<std::string, std::string> row;
        for (size_t i = 0; i < cells.size(); i++) row[header[i]] = cells[i];
        auto num = [&](const char *key) { return std::stoi(row.at(key)); };

        convgen::ConvSpec s;
        s.dims = num("dims");
        s.in_channels = num("c_in");
        s.out_channels = num("c_out");
        s.groups = num("groups");
        s.bias = num("bias") != 0;
        s.padding_mode = convgen::parse_padding_mode(row.at("padding_mode"));
        s.activation = row.at("act") == "relu" ? convgen::Activation::ReLU : convgen::Activation::None;
        const char *keys[2][4] = {{"kh", "sh", "ph", "dh"}, {"kw", "sw", "pw", "dw"}};
        for (int axis = 2 - s.dims, i = 0; axis < 2; axis++, i++) {
            s.kernel_size[i] = num(keys[axis][0]);
            s.stride[i] = num(keys[axis][1]);
            s.padding[i] = num(keys[axis][2]);
            s.dilation[i] = num(keys[axis][3]);
        }
        s.validate();
        SuiteLayer layer{row.at("name"), s, {num("n"), s.in_channels}};
        if (s.dims == 2) layer.input_shape.push_back(num("h"));
        layer.input_shape.push_back(num("w"));
        layers.push_back(layer);
    }
    return layers;
}

}  // namespace convgen_bench
