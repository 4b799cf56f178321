# `docker buildx bake` builds the targets of the group "default": both, at once.
group "default" {
  targets = ["app", "tests"]
}

target "app" {
  target = "app"
}

target "tests" {
  target = "tests"
}
