# `docker buildx bake` builds the targets of the group "default".
group "default" {
  targets = ["app"]
}

target "app" {
  target = "app"
}
